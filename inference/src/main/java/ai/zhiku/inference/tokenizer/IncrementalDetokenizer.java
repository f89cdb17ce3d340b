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
 * <p>Each call decodes the ids so far: the leading-space rule and the family's decoding quirks
 * then apply exactly as in a one-shot decode. That is linear work per token in the length of
 * the reply, small next to a forward pass.
 */
public final class IncrementalDetokenizer {
  private final Tokenizer tokenizer;
  private final List<String> stops;
  private final int maxStop;
  private int[] ids = new int[64];
  private int count;
  private int emitted; // chars of the decoded text already handed out
  private String text = "";
  private boolean stopped;

  public IncrementalDetokenizer(Tokenizer tokenizer, List<String> stops) {
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
    text = tokenizer.decode(Arrays.copyOf(ids, count), true);
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
    end -= Math.min(end - emitted, tokenizer.unstableSuffix(text.substring(0, end)));
    end -= partialStop(end);
    return take(end);
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
        if (text.regionMatches(end - k, s, 0, k)) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}
