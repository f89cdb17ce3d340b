package ai.zhiku.inference.tokenizer;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatMessage;
import java.util.List;

/** Renders OpenAI chat messages into the prompt string a model was trained on. */
public sealed interface ChatTemplate permits ChatTemplate.ChatGlm2, ChatTemplate.ChatMl {

  String name();

  /** The prompt text (without the tokenizer's special-token prefix), ending where the reply starts. */
  String render(List<ChatMessage> messages);

  /** The template named {@code name} ("chatglm2", "internlm2" / "chatml"). */
  static ChatTemplate named(String name) {
    return switch (name) {
      case "chatglm2" -> new ChatGlm2();
      case "internlm2" -> new ChatMl("internlm2", InternLm2Defaults.META_INSTRUCTION);
      case "chatml" -> new ChatMl("chatml", null);
      default -> throw ZhikuException.invalid("chat_template", "unknown chat template '" + name
          + "'; known: chatglm2, internlm2, chatml");
    };
  }

  private static void checkRoles(List<ChatMessage> messages) {
    if (messages.isEmpty()) throw ZhikuException.invalid("messages", "messages must not be empty");
    for (ChatMessage m : messages) {
      if (!List.of("system", "user", "assistant").contains(m.role())) {
        throw ZhikuException.invalid("messages", "unsupported role '" + m.role() + "'; allowed: system, user, assistant");
      }
      if (m.content() == null) throw ZhikuException.invalid("messages", "message content must not be null");
    }
  }

  /**
   * ChatGLM2's {@code build_prompt}: {@code [Round i]\n\n问：q\n\n答：a\n\n} per past turn, then
   * {@code [Round n]\n\n问：q\n\n答：}. ChatGLM2 has no system role: system messages are joined
   * and put before the first round, followed by a blank line (as FastChat does). Consecutive
   * user messages are joined with a newline; a trailing assistant message is continued.
   */
  record ChatGlm2() implements ChatTemplate {
    @Override
    public String name() { return "chatglm2"; }

    @Override
    public String render(List<ChatMessage> messages) {
      checkRoles(messages);
      StringBuilder system = new StringBuilder();
      StringBuilder out = new StringBuilder();
      int round = 1;
      String question = null;
      for (ChatMessage m : messages) {
        switch (m.role()) {
          case "system" -> system.append(system.isEmpty() ? "" : "\n").append(m.content());
          case "user" -> question = question == null ? m.content() : question + "\n" + m.content();
          default -> {
            out.append("[Round ").append(round++).append("]\n\n问：").append(question == null ? "" : question)
                .append("\n\n答：").append(m.content()).append("\n\n");
            question = null;
          }
        }
      }
      ChatMessage last = messages.get(messages.size() - 1);
      if (last.role().equals("assistant")) {
        out.setLength(out.length() - 2); // continue the last answer
      } else {
        out.append("[Round ").append(round).append("]\n\n问：").append(question == null ? "" : question).append("\n\n答：");
      }
      return system.isEmpty() ? out.toString() : system + "\n\n" + out;
    }
  }

  /**
   * ChatML as InternLM2's {@code build_inputs} writes it: an optional system block (the
   * model's default meta instruction when the request has no system message), one block per
   * message, then {@code <|im_start|>assistant\n}.
   */
  record ChatMl(String name, String defaultSystem) implements ChatTemplate {
    @Override
    public String render(List<ChatMessage> messages) {
      checkRoles(messages);
      StringBuilder out = new StringBuilder();
      boolean hasSystem = messages.stream().anyMatch(m -> m.role().equals("system"));
      if (!hasSystem && defaultSystem != null && !defaultSystem.isEmpty()) {
        out.append("<|im_start|>system\n").append(defaultSystem).append("<|im_end|>\n");
      }
      for (ChatMessage m : messages) {
        out.append("<|im_start|>").append(m.role()).append('\n').append(m.content()).append("<|im_end|>\n");
      }
      out.append("<|im_start|>assistant\n");
      return out.toString();
    }
  }
}
