package ai.zhiku.inference.tokenizer;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.ChatTool;
import ai.zhiku.common.engine.ToolCall;
import ai.zhiku.inference.tools.ChatGlm3ToolParser;
import ai.zhiku.inference.tools.PyJson;
import ai.zhiku.inference.tools.ToolCallParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * ChatGLM3's {@code build_chat_input}: [gMASK] sop, then per message its role token,
 * {@code encode(metadata + "\n")} and {@code encode(content)} (each a separate SentencePiece
 * call), then {@code <|assistant|>}. OpenAI messages map onto its roles: system, user, assistant
 * (each tool call its own assistant message with the function's name as metadata and the call as
 * {@code tool_call(...)} in a fenced block, as the model writes it), tool results as observation.
 * Offered tools (their {@code function} objects) are appended to the first system message as
 * {@code "\n" + json.dumps(tools, indent=4, ensure_ascii=False)}; without a system message one
 * with the official tool demo's text is put first.
 */
public final class ChatGlm3Template implements ChatTemplate {
  /** The system text of ChatGLM3's tool demo, used when tools come without a system message. */
  public static final String TOOL_SYSTEM = "Answer the following questions as best as you can. You have access to the following tools:";

  /** One message of build_chat_input's history. */
  public record Item(String role, String metadata, String content) {}

  @Override
  public String name() { return "chatglm3"; }

  /** The messages as build_chat_input's history items. */
  public static List<Item> items(List<ChatMessage> messages, List<ChatTool> tools) {
    if (messages.isEmpty()) throw ZhikuException.invalid("messages", "messages must not be empty");
    List<Item> out = new ArrayList<>();
    String toolJson = null;
    if (!tools.isEmpty()) {
      ArrayNode fns = JsonNodeFactory.instance.arrayNode();
      for (ChatTool t : tools) {
        JsonNode n = PyJson.parse(t.json(), "tools");
        fns.add(n.has("function") ? n.get("function") : n);
      }
      toolJson = PyJson.dumps(fns, 4);
      if (!messages.get(0).role().equals("system")) out.add(new Item("system", "", TOOL_SYSTEM + "\n" + toolJson));
    }
    for (int i = 0; i < messages.size(); i++) {
      ChatMessage m = messages.get(i);
      if (m.content() == null) throw ZhikuException.invalid("messages", "message content must not be null");
      switch (m.role()) {
        case "system" -> out.add(new Item("system", "", i == 0 && toolJson != null ? m.content() + "\n" + toolJson : m.content()));
        case "user" -> out.add(new Item("user", "", m.content()));
        case "assistant" -> {
          if (m.toolCalls().isEmpty() || !m.content().isEmpty()) out.add(new Item("assistant", "", m.content()));
          for (ToolCall c : m.toolCalls()) {
            JsonNode args = PyJson.parse(c.arguments() == null || c.arguments().isBlank() ? "{}" : c.arguments(), "messages");
            if (!args.isObject()) throw ZhikuException.invalid("messages", "tool call arguments must be a JSON object");
            out.add(new Item("assistant", c.name(), ChatGlm3ToolParser.render(args)));
          }
        }
        case "tool", "observation" -> out.add(new Item("observation", "", m.content()));
        default -> throw ZhikuException.invalid("messages", "unsupported role '" + m.role()
            + "'; allowed: system, user, assistant, tool");
      }
    }
    return out;
  }

  /** The prompt as text, for echo and reading: role tokens, metadata lines and contents. */
  @Override
  public String render(List<ChatMessage> messages, List<ChatTool> tools) {
    StringBuilder sb = new StringBuilder();
    for (Item it : items(messages, tools)) {
      sb.append("<|").append(it.role()).append("|>").append(it.metadata()).append('\n').append(it.content());
    }
    return sb.append("<|assistant|>").toString();
  }

  @Override
  public int[] encode(List<ChatMessage> messages, List<ChatTool> tools, Tokenizer tokenizer) {
    if (!(tokenizer instanceof ChatGlm3Tokenizer t)) {
      throw ZhikuException.invalid("chat_template", "the chatglm3 template needs ChatGLM3's tokenizer");
    }
    List<Integer> ids = new ArrayList<>();
    for (Item it : items(messages, tools)) {
      ids.add(t.roleId(it.role()));
      for (int id : t.encodePieces(it.metadata() + "\n")) ids.add(id);
      for (int id : t.encodePieces(it.content())) ids.add(id);
    }
    ids.add(t.roleId("assistant"));
    return t.withPrefix(ids.stream().mapToInt(Integer::intValue).toArray());
  }

  @Override
  public ToolCallParser toolParser(List<ChatTool> tools) {
    return new ChatGlm3ToolParser(!tools.isEmpty());
  }
}
