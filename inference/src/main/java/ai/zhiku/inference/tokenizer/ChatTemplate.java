package ai.zhiku.inference.tokenizer;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.ChatTool;
import java.util.List;

/**
 * Renders OpenAI chat messages (and the tools offered) into the prompt a model was trained on,
 * and says how to read tool calls back out of its replies.
 */
public sealed interface ChatTemplate permits ChatTemplate.ChatGlm2, ChatTemplate.ChatMl, ChatGlm3Template, JinjaTemplate {

  String name();

  /** The prompt text (without the tokenizer's special-token prefix), ending where the reply starts. */
  default String render(List<ChatMessage> messages) {
    return render(messages, List.of());
  }

  /** The prompt with tools offered; templates without a tool format refuse tools. */
  String render(List<ChatMessage> messages, List<ChatTool> tools);

  /**
   * The prompt's token ids, with the model's prefix. Most templates render text and tokenize it
   * once; a family whose official code builds the prompt from ids (ChatGLM3) overrides this.
   */
  default int[] encode(List<ChatMessage> messages, List<ChatTool> tools, Tokenizer tokenizer) {
    return tokenizer.encode(render(messages, tools), true);
  }

  /** How replies rendered with {@code tools} are read back, or null when the template has no tool format. */
  default ai.zhiku.inference.tools.ToolCallParser toolParser(List<ChatTool> tools) { return null; }

  /** The template named {@code name} ("chatglm2", "chatglm3", "internlm2" / "chatml"). */
  static ChatTemplate named(String name) {
    return switch (name) {
      case "chatglm2" -> new ChatGlm2();
      case "chatglm3" -> new ChatGlm3Template();
      case "internlm2" -> new ChatMl("internlm2", InternLm2Defaults.META_INSTRUCTION);
      case "chatml" -> new ChatMl("chatml", null);
      default -> throw ZhikuException.invalid("chat_template", "unknown chat template '" + name
          + "'; known: chatglm2, chatglm3, internlm2, chatml");
    };
  }

  /**
   * ChatGLM2's {@code build_prompt}: {@code [Round i]\n\n问：q\n\n答：a\n\n} per past turn, then
   * {@code [Round n]\n\n问：q\n\n答：}. ChatGLM2 has no system role: system messages are joined
   * and put before the first round, followed by a blank line (as FastChat does). Consecutive
   * user messages are joined with a newline; a trailing assistant message is continued.
   *
   * <p>ChatGLM2 has no tool format of its own, so tools use Zhiku's prompt-based one
   * ({@link ai.zhiku.inference.tools.PromptToolFormat}): an instruction listing the tools before the
   * first round, calls as {@code <tool_call>} JSON blocks in the answer, results as
   * {@code <tool_response>} blocks in the next question.
   */
  record ChatGlm2() implements ChatTemplate {
    @Override
    public String name() { return "chatglm2"; }

    @Override
    public String render(List<ChatMessage> messages, List<ChatTool> tools) {
      if (messages.isEmpty()) throw ZhikuException.invalid("messages", "messages must not be empty");
      for (ChatMessage m : messages) {
        if (!List.of("system", "user", "assistant", "tool").contains(m.role())) {
          throw ZhikuException.invalid("messages", "unsupported role '" + m.role() + "'; allowed: system, user, assistant, tool");
        }
        if (m.content() == null) throw ZhikuException.invalid("messages", "message content must not be null");
      }
      StringBuilder system = new StringBuilder();
      StringBuilder out = new StringBuilder();
      int round = 1;
      String question = null;
      for (ChatMessage m : messages) {
        switch (m.role()) {
          case "system" -> system.append(system.isEmpty() ? "" : "\n").append(m.content());
          case "user" -> question = question == null ? m.content() : question + "\n" + m.content();
          case "tool" -> {
            String result = ai.zhiku.inference.tools.PromptToolFormat.result(m.content());
            question = question == null ? result : question + "\n" + result;
          }
          default -> {
            out.append("[Round ").append(round++).append("]\n\n问：").append(question == null ? "" : question)
                .append("\n\n答：").append(ai.zhiku.inference.tools.PromptToolFormat.answer(m.content(), m.toolCalls())).append("\n\n");
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
      if (!tools.isEmpty()) system.append(system.isEmpty() ? "" : "\n").append(ai.zhiku.inference.tools.PromptToolFormat.instruction(tools));
      return system.isEmpty() ? out.toString() : system + "\n\n" + out;
    }

    @Override
    public ai.zhiku.inference.tools.ToolCallParser toolParser(List<ChatTool> tools) {
      return new ai.zhiku.inference.tools.QwenToolParser();
    }
  }

  /**
   * ChatML as InternLM2's {@code build_inputs} writes it: an optional system block (the
   * model's default meta instruction when the request has no system message), one block per
   * message, then {@code <|im_start|>assistant\n}. Tools follow InternLM2's plugin format (its chat
   * format documentation, as LMDeploy renders it): after the system block a
   * {@code <|im_start|>system name=<|plugin|>\n} block with {@code json.dumps} of the tools'
   * function objects; an assistant call is appended to its content as
   * {@code <|action_start|><|plugin|>\n{"name": ..., "parameters": {...}}<|action_end|>}; a tool
   * result is an {@code <|im_start|>environment name=<|plugin|>\n} block.
   */
  record ChatMl(String name, String defaultSystem) implements ChatTemplate {
    @Override
    public String render(List<ChatMessage> messages, List<ChatTool> tools) {
      if (messages.isEmpty()) throw ZhikuException.invalid("messages", "messages must not be empty");
      for (ChatMessage m : messages) {
        if (!List.of("system", "user", "assistant", "tool").contains(m.role())) {
          throw ZhikuException.invalid("messages", "unsupported role '" + m.role() + "'; allowed: system, user, assistant, tool");
        }
        if (m.content() == null) throw ZhikuException.invalid("messages", "message content must not be null");
      }
      StringBuilder out = new StringBuilder();
      boolean hasSystem = messages.get(0).role().equals("system");
      if (messages.stream().noneMatch(m -> m.role().equals("system")) && defaultSystem != null && !defaultSystem.isEmpty()) {
        out.append("<|im_start|>system\n").append(defaultSystem).append("<|im_end|>\n");
      }
      String plugins = null;
      if (!tools.isEmpty()) {
        var fns = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode();
        for (ChatTool t : tools) {
          var n = ai.zhiku.inference.tools.PyJson.parse(t.json(), "tools");
          fns.add(n.has("function") ? n.get("function") : n);
        }
        plugins = "<|im_start|>system name=<|plugin|>\n" + ai.zhiku.inference.tools.PyJson.dumps(fns) + "<|im_end|>\n";
        if (!hasSystem) out.append(plugins);
      }
      for (int i = 0; i < messages.size(); i++) {
        ChatMessage m = messages.get(i);
        if (m.role().equals("tool")) {
          out.append("<|im_start|>environment name=<|plugin|>\n").append(m.content()).append("<|im_end|>\n");
        } else {
          out.append("<|im_start|>").append(m.role()).append('\n').append(m.content());
          for (ai.zhiku.common.engine.ToolCall c : m.toolCalls()) {
            var fn = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
            fn.put("name", c.name());
            fn.set("parameters", ai.zhiku.inference.tools.PyJson.parse(
                c.arguments() == null || c.arguments().isBlank() ? "{}" : c.arguments(), "messages"));
            out.append("<|action_start|><|plugin|>\n").append(ai.zhiku.inference.tools.PyJson.dumps(fn)).append("<|action_end|>");
          }
          out.append("<|im_end|>\n");
        }
        if (i == 0 && hasSystem && plugins != null) out.append(plugins);
      }
      out.append("<|im_start|>assistant\n");
      return out.toString();
    }

    @Override
    public ai.zhiku.inference.tools.ToolCallParser toolParser(List<ChatTool> tools) {
      return new ai.zhiku.inference.tools.InternLm2ToolParser();
    }
  }
}
