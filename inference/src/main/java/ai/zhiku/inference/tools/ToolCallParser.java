package ai.zhiku.inference.tools;

import ai.zhiku.common.engine.ToolCall;
import java.util.List;

/**
 * Turns a family's raw reply (decoded with its special tokens) back into content and tool calls.
 * A parser never puts any part of a call into content: a call cut short (the reply hit its token
 * limit) is dropped, not shown as text.
 */
public interface ToolCallParser {
  /** Content (null when there is none) and the calls, in order; calls have no id (the API assigns one). */
  record Parsed(String content, List<ToolCall> calls) {
    public Parsed {
      calls = List.copyOf(calls);
    }
  }

  /** The family's call format, for decoding held to one call (tool_choice required), or null when it has none we can force. */
  default ToolCallFormat callFormat() { return null; }

  /** The whole reply, once generation has ended. */
  Parsed parse(String raw);

  /**
   * The calls of a reply whose calls are delimited blocks, {@code open body close}, the first opening
   * at {@code first}: each body goes to {@code call} (null for one that is not a call); a last block
   * without its close (the reply was cut) goes too, and the call reader drops it if it is incomplete.
   * The content is the text before the first block, without trailing whitespace.
   */
  static Parsed delimited(String raw, int first, String open, String close, java.util.function.Function<String, ToolCall> call) {
    List<ToolCall> calls = new java.util.ArrayList<>();
    for (int at = first; at >= 0; ) {
      int end = raw.indexOf(close, at);
      ToolCall c = call.apply(end < 0 ? raw.substring(at + open.length()) : raw.substring(at + open.length(), end));
      if (c != null) calls.add(c);
      at = end < 0 ? -1 : raw.indexOf(open, end);
    }
    String content = raw.substring(0, first).stripTrailing();
    return new Parsed(content.isEmpty() ? null : content, calls);
  }

  /**
   * Content of a reply still being generated that no continuation can change: always a prefix of
   * {@code parse(raw + anything).content()}. Streaming sends this much and holds back the rest.
   */
  String stableContent(String partialRaw);

  /** Feeds a streamed reply through {@code parser}: content deltas while it grows, the calls at the end. */
  final class Stream {
    private final ToolCallParser parser;
    private final StringBuilder raw = new StringBuilder();
    private int sent;

    public Stream(ToolCallParser parser) { this.parser = parser; }

    /** Appends a text delta; returns the content that may be sent now (possibly empty). */
    public String push(String delta) {
      raw.append(delta);
      String stable = parser.stableContent(raw.toString());
      if (stable.length() <= sent) return "";
      String out = stable.substring(sent);
      sent = stable.length();
      return out;
    }

    /** Ends the reply: the content not sent yet (possibly empty) and the calls. */
    public Parsed finish() {
      Parsed p = parser.parse(raw.toString());
      String content = p.content() == null ? "" : p.content();
      String rest = content.length() > sent ? content.substring(sent) : "";
      return new Parsed(rest, p.calls());
    }
  }

  /** {@code s} without trailing whitespace. */
  static String stripTrailing(String s) {
    return s.stripTrailing();
  }

  /** The longest suffix of {@code s} that is a proper prefix of {@code marker} (text that might start it). */
  static int partialMarker(String s, String marker) {
    for (int k = Math.min(marker.length() - 1, s.length()); k > 0; k--) {
      if (s.regionMatches(s.length() - k, marker, 0, k)) return k;
    }
    return 0;
  }
}
