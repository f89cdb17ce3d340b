package ai.zhiku.inference.tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * Turns generated ids into text deltas whose concatenation equals decoding all ids at once
 * (special tokens skipped). Text is held back while it may still change: an incomplete UTF-8
 * character (byte-fallback pieces decode to U+FFFD until complete), a suffix the tokenizer may
 * still rewrite, and a suffix that could be the start of a stop string. A stop string is never
 * emitted, nor anything after it.
 *
 * <p>Each call decodes a window of the last few ids, not the whole reply: the ids before a point
 * where the text was complete and stable (no dangling UTF-8 byte, nothing the tokenizer's cleanup
 * could still rewrite) are final, and a window starts a few ids before that point, so the
 * leading-space rule and the family's decoding quirks apply to the new ids as in a one-shot
 * decode. The work per token is constant in the length of the reply (decoding everything each
 * token made a 2,000-token reply cost 2 million piece lookups).
 */
public final class IncrementalDetokenizer {
  /** Ids of context a window keeps before the new ones. */
  private static final int CONTEXT = 4;

  private final Tokenizer tokenizer;
  private final boolean skipSpecial;
  private final List<String> stops;
  private final int maxStop;
  private int[] ids = new int[64];
  private int count;
  private int emitted; // chars of the decoded text already handed out
  private final StringBuilder text = new StringBuilder();
  /** ids[0, stableIds) decode to text[0, stableChars) whatever follows them. */
  private int stableIds;
  private int stableChars;
  /** First id of the window, and what ids[windowStart, stableIds) decode to on their own. */
  private int windowStart;
  private String windowPrefix = "";
  private boolean stopped;

  public IncrementalDetokenizer(Tokenizer tokenizer, List<String> stops) {
    this(tokenizer, stops, true);
  }

  /** {@code skipSpecial} false: special tokens are kept as their text (a reply read for tool calls). */
  public IncrementalDetokenizer(Tokenizer tokenizer, List<String> stops, boolean skipSpecial) {
    this.skipSpecial = skipSpecial;
    this.tokenizer = tokenizer;
    this.stops = List.copyOf(stops);
    this.maxStop = stops.stream().mapToInt(String::length).max().orElse(0);
  }

  /** True once a stop string was found; nothing more is emitted. */
  public boolean stopped() { return stopped; }

  /** Adds a generated id; returns the new text that is safe to emit (possibly empty). */
  public String push(int id) {
    if (stopped) return "";
    if (count == ids.length) ids = Arrays.copyOf(ids, count * 2);
    ids[count++] = id;
    decodeTail();
    if (text.length() < emitted) return ""; // cannot happen with stable decoding; wait for it to settle
    // a complete stop string ends the text before it
    int from = Math.max(0, emitted - maxStop + 1);
    int stopAt = -1;
    for (String s : stops) {
      int i = text.indexOf(s, from);
      if (i >= 0 && (stopAt < 0 || i < stopAt)) stopAt = i;
    }
    if (stopAt >= 0) {
      stopped = true;
      return take(Math.max(stopAt, emitted));
    }
    int end = text.length();
    while (end > emitted && text.charAt(end - 1) == '\ufffd') end--;
    end -= Math.min(end - emitted, tokenizer.unstableSuffix(java.nio.CharBuffer.wrap(text, 0, end)));
    end -= partialStop(end);
    return take(end);
  }

  /**
   * Makes text the decoding of all ids: the stable part, then what the window adds past its
   * prefix; moves the stable point to the end when nothing there can still change.
   */
  private void decodeTail() {
    String window = tokenizer.decode(Arrays.copyOfRange(ids, windowStart, count), skipSpecial);
    if (!window.startsWith(windowPrefix)) {
      // the new ids changed how the window's first ids decode: start over from the beginning
      stableIds = stableChars = windowStart = 0;
      windowPrefix = "";
      window = tokenizer.decode(Arrays.copyOf(ids, count), skipSpecial);
    }
    text.setLength(stableChars);
    text.append(window, windowPrefix.length(), window.length());
    boolean settled = text.isEmpty() || text.charAt(text.length() - 1) != '\ufffd';
    if (settled && tokenizer.unstableSuffix(text) == 0) {
      stableIds = count;
      stableChars = text.length();
      windowStart = Math.max(windowStart, count - CONTEXT);
      windowPrefix = tokenizer.decode(Arrays.copyOfRange(ids, windowStart, count), skipSpecial);
      if (!endsWith(text, windowPrefix)) { // context that decodes apart from the rest: keep the window whole
        windowStart = 0;
        windowPrefix = text.toString();
      }
    }
  }

  private static boolean endsWith(StringBuilder sb, String suffix) {
    return sb.length() >= suffix.length() && startsAt(sb, sb.length() - suffix.length(), suffix, suffix.length());
  }

  /** Whether sb[at, at + k) equals s[0, k). */
  private static boolean startsAt(StringBuilder sb, int at, String s, int k) {
    for (int i = 0; i < k; i++) if (sb.charAt(at + i) != s.charAt(i)) return false;
    return true;
  }

  /** The text still held back, for the end of the generation (none after a stop string). */
  public String flush() {
    if (stopped) return "";
    return take(text.length());
  }

  /** All text emitted so far. */
  public String emittedText() { return text.substring(0, emitted); }

  private String take(int end) {
    if (end <= emitted) return "";
    String delta = text.substring(emitted, end);
    emitted = end;
    return delta;
  }

  /** Length of the longest suffix of text[emitted, end) that is a proper prefix of a stop string. */
  private int partialStop(int end) {
    int best = 0;
    for (String s : stops) {
      for (int k = Math.min(s.length() - 1, end - emitted); k > best; k--) {
        if (startsAt(text, end - k, s, k)) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}
