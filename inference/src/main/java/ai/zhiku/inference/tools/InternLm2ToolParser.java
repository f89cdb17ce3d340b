package ai.zhiku.inference.tools;

import java.util.List;

/**
 * InternLM2's plugin calls, as its chat format defines them:
 * {@code <|action_start|><|plugin|>\n{"name": ..., "parameters": {...}}<|action_end|>}. The reply
 * must be decoded with its special tokens. Content is the text before the first action.
 */
public final class InternLm2ToolParser implements ToolCallParser {
  static final String START = "<|action_start|><|plugin|>";
  static final String END = "<|action_end|>";

  @Override
  public Parsed parse(String raw) {
    int first = raw.indexOf(START);
    if (first < 0) {
      int e = raw.indexOf("<|im_end|>");
      String c = (e >= 0 ? raw.substring(0, e) : raw).stripTrailing();
      return new Parsed(c.strip().isEmpty() ? null : c, List.of());
    }
    return ToolCallParser.delimited(raw, first, START, END, body -> {
      int brace = body.indexOf('{');
      return brace < 0 ? null : QwenToolParser.call(body.substring(brace).strip());
    });
  }

  /** As the template renders a call: the plugin action, {@code {"name", "parameters"}}, the action's end. */
  @Override
  public ToolCallFormat callFormat() { return new ToolCallFormat(START + "\n", "name", "parameters", END); }

  @Override
  public String stableContent(String raw) {
    int first = raw.indexOf(START);
    String before = first >= 0 ? raw.substring(0, first) : raw.substring(0, raw.length() - ToolCallParser.partialMarker(raw, START));
    int end = before.indexOf("<|im_end|>");
    if (end >= 0) before = before.substring(0, end);
    else before = before.substring(0, before.length() - ToolCallParser.partialMarker(before, "<|im_end|>"));
    return before.stripTrailing();
  }
}
