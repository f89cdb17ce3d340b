package ai.zhiku.inference.tools;

import ai.zhiku.common.engine.ChatTool;
import ai.zhiku.common.engine.ToolCall;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * Zhiku's prompt-based tool format for families trained without one (ChatGLM2): the tools are listed
 * in an instruction before the conversation, a call is a {@code <tool_call>\n{"name": ..., "arguments":
 * {...}}\n</tool_call>} block in plain text (the Hermes-style blocks Qwen2.5 was trained on, so the
 * same parser reads them back), a tool's result comes back as a {@code <tool_response>} block. The
 * model never saw this format in training: with {@code tool_choice: "auto"} it may or may not follow
 * it; with {@code "required"} or a named function decoding is held to it, so the call is valid.
 */
public final class PromptToolFormat {
  private PromptToolFormat() {}

  /** The instruction that offers {@code tools} (their function objects as JSON, one per line). */
  public static String instruction(List<ChatTool> tools) {
    StringBuilder sb = new StringBuilder("你可以调用以下工具（JSON 描述，每行一个）：\n");
    for (ChatTool t : tools) {
      var n = PyJson.parse(t.json(), "tools");
      sb.append(PyJson.dumps(n.has("function") ? n.get("function") : n)).append('\n');
    }
    return sb.append("需要调用工具时，只回复如下的块，每次调用一个：\n<tool_call>\n{\"name\": 工具名, \"arguments\": 参数对象}\n</tool_call>\n"
        + "工具的结果会放在 <tool_response> 块中给你。").toString();
  }

  /** An assistant turn as written into the history: its text, then one block per call. */
  public static String answer(String content, List<ToolCall> calls) {
    StringBuilder sb = new StringBuilder(content);
    for (ToolCall c : calls) {
      ObjectNode call = JsonNodeFactory.instance.objectNode();
      call.put("name", c.name());
      call.set("arguments", PyJson.parse(c.arguments() == null || c.arguments().isBlank() ? "{}" : c.arguments(), "messages"));
      if (!sb.isEmpty()) sb.append('\n');
      sb.append(QwenToolParser.OPEN).append('\n').append(PyJson.dumps(call)).append('\n').append(QwenToolParser.CLOSE);
    }
    return sb.toString();
  }

  /** A tool's result as the next question holds it. */
  public static String result(String content) {
    return "<tool_response>\n" + content + "\n</tool_response>";
  }
}
