package ai.zhiku.common.engine;

import java.util.List;

/**
 * What a generation starts from: either a raw prompt (completions) or chat messages, which the
 * engine renders with the model's chat template, with the tools the model may call. Exactly one of
 * prompt and messages is non-null; tools go only with messages.
 */
public record PromptInput(String prompt, List<ChatMessage> messages, List<ChatTool> tools) {
  public PromptInput {
    if ((prompt == null) == (messages == null)) {
      throw new IllegalArgumentException("exactly one of prompt and messages must be given");
    }
    messages = messages == null ? null : List.copyOf(messages);
    tools = tools == null ? List.of() : List.copyOf(tools);
    if (prompt != null && !tools.isEmpty()) throw new IllegalArgumentException("tools need chat messages");
  }

  public PromptInput(String prompt, List<ChatMessage> messages) {
    this(prompt, messages, List.of());
  }

  public static PromptInput ofPrompt(String prompt) { return new PromptInput(prompt, null); }

  public static PromptInput ofMessages(List<ChatMessage> messages) { return new PromptInput(null, messages); }

  public static PromptInput ofMessages(List<ChatMessage> messages, List<ChatTool> tools) {
    return new PromptInput(null, messages, tools);
  }

  public boolean isChat() { return messages != null; }
}
