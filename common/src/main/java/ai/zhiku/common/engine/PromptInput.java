package ai.zhiku.common.engine;

import java.util.List;

/**
 * What a generation starts from: a raw prompt (completions), a prompt already given as token ids
 * (completions), or chat messages, which the engine renders with the model's chat template, with
 * the tools the model may call. Exactly one of prompt, ids and messages is non-null; tools go only
 * with messages.
 */
public record PromptInput(String prompt, List<ChatMessage> messages, List<ChatTool> tools, int[] ids) {
  public PromptInput {
    int given = (prompt != null ? 1 : 0) + (messages != null ? 1 : 0) + (ids != null ? 1 : 0);
    if (given != 1) {
      throw new IllegalArgumentException("exactly one of prompt, ids and messages must be given");
    }
    messages = messages == null ? null : List.copyOf(messages);
    tools = tools == null ? List.of() : List.copyOf(tools);
    ids = ids == null ? null : ids.clone();
    if (messages == null && !tools.isEmpty()) throw new IllegalArgumentException("tools need chat messages");
  }

  public PromptInput(String prompt, List<ChatMessage> messages, List<ChatTool> tools) {
    this(prompt, messages, tools, null);
  }

  public PromptInput(String prompt, List<ChatMessage> messages) {
    this(prompt, messages, List.of(), null);
  }

  public static PromptInput ofPrompt(String prompt) { return new PromptInput(prompt, null); }

  /** A prompt given as token ids, used as they are (no prefix added). */
  public static PromptInput ofIds(int[] ids) { return new PromptInput(null, null, List.of(), ids); }

  public static PromptInput ofMessages(List<ChatMessage> messages) { return new PromptInput(null, messages); }

  public static PromptInput ofMessages(List<ChatMessage> messages, List<ChatTool> tools) {
    return new PromptInput(null, messages, tools);
  }

  public boolean isChat() { return messages != null; }
}
