package ai.zhiku.inference.tools;

import ai.zhiku.common.engine.ToolCall;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * Qwen2.5's calls, as its chat template asks for them: one
 * {@code <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>} block per call. Content is
 * the text before the first block, without trailing whitespace.
 */
public final class QwenToolParser implements ToolCallParser {
  static final String OPEN = "<tool_call>";
  static final String CLOSE = "</tool_call>";

  @Override
  public Parsed parse(String raw) {
    int first = raw.indexOf(OPEN);
    if (first < 0) return new Parsed(raw.strip().isEmpty() ? null : raw.stripTrailing(), List.of());
    return ToolCallParser.delimited(raw, first, OPEN, CLOSE, body -> call(body.strip()));
  }

  /** A {@code {"name", "arguments"}} object, or null when it is not one (cut short, or not JSON). */
  static ToolCall call(String json) {
    JsonNode n;
    try {
      n = PyJson.parse(json, "tool_call");
    } catch (RuntimeException e) {
      return null;
    }
    if (!n.isObject() || !n.path("name").isTextual()) return null;
    JsonNode args = n.has("arguments") ? n.get("arguments") : n.path("parameters");
    if (args.isTextual()) args = PyJson.parse(args.asText(), "arguments");
    if (args.isMissingNode() || args.isNull()) args = PyJson.parse("{}", "arguments");
    return new ToolCall(null, n.get("name").asText(), PyJson.dumps(args));
  }

  /** Qwen2.5's template: {@code <tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>}. */
  @Override
  public ToolCallFormat callFormat() { return new ToolCallFormat(OPEN + "\n", "name", "arguments", "\n" + CLOSE); }

  @Override
  public String stableContent(String raw) {
    int first = raw.indexOf(OPEN);
    String before = first >= 0 ? raw.substring(0, first) : raw.substring(0, raw.length() - ToolCallParser.partialMarker(raw, OPEN));
    return before.stripTrailing();
  }
}
