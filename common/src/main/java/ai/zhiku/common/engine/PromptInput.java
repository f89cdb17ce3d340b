package ai.zhiku.common.engine;

import java.util.List;

/**
 * What a generation starts from: either a raw prompt (completions) or chat messages, which the
 * engine renders with the model's chat template. Exactly one is non-null.
 */
public record PromptInput(String prompt, List<ChatMessage> messages) {
  public PromptInput {
    if ((prompt == null) == (messages == null)) {
      throw new IllegalArgumentException("exactly one of prompt and messages must be given");
    }
    messages = messages == null ? null : List.copyOf(messages);
  }

  public static PromptInput ofPrompt(String prompt) { return new PromptInput(prompt, null); }

  public static PromptInput ofMessages(List<ChatMessage> messages) { return new PromptInput(null, messages); }

  public boolean isChat() { return messages != null; }
}
