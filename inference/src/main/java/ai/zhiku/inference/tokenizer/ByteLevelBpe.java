package ai.zhiku.inference.tokenizer;

import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE (GPT-2's scheme): a pre-token's UTF-8 bytes map one to one onto printable
 * characters, and merges join adjacent symbols, lowest rank first. Merging runs on a priority
 * queue of candidate pairs over a linked list of symbols (n log n per pre-token; a pair made by a
 * merge always ranks after the merge that made it, so this equals GPT-2's pass-per-rank loop).
 * Results are cached per pre-token.
 */
final class ByteLevelBpe {
  private static final int CACHE_LIMIT = 1 << 16;
  static final char[] BYTE_TO_CHAR = new char[256];
  static final int[] CHAR_TO_BYTE = new int[512];

  static {
    java.util.Arrays.fill(CHAR_TO_BYTE, -1);
    int n = 0;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char c = printable ? (char) b : (char) (256 + n++);
      BYTE_TO_CHAR[b] = c;
      CHAR_TO_BYTE[c] = b;
    }
  }

  private final Map<String, Integer> vocab;
  private final Map<Long, Integer> ranks; // (left id, right id) -> merge rank
  private final Map<Long, Integer> merged; // (left id, right id) -> id of the joined symbol
  private final Map<String, int[]> cache = new ConcurrentHashMap<>();
  private final int[] byteIds = new int[256];

  /** {@code merges[i]} = {left, right} of rank i. */
  ByteLevelBpe(Map<String, Integer> vocab, java.util.List<String[]> merges) {
    this.vocab = vocab;
    this.ranks = new java.util.HashMap<>(merges.size() * 2);
    this.merged = new java.util.HashMap<>(merges.size() * 2);
    for (int b = 0; b < 256; b++) {
      Integer id = vocab.get(String.valueOf(BYTE_TO_CHAR[b]));
      byteIds[b] = id == null ? -1 : id;
    }
    for (int r = 0; r < merges.size(); r++) {
      String[] m = merges.get(r);
      Integer a = vocab.get(m[0]);
      Integer b = vocab.get(m[1]);
      Integer ab = vocab.get(m[0] + m[1]);
      if (a == null || b == null || ab == null) continue;
      long key = key(a, b);
      if (!ranks.containsKey(key)) {
        ranks.put(key, r);
        merged.put(key, ab);
      }
    }
  }

  private static long key(int a, int b) { return ((long) a << 32) | (b & 0xffffffffL); }

  /** The byte-level string of {@code text}'s UTF-8 bytes. */
  static String toByteChars(String text) {
    byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    char[] out = new char[bytes.length];
    for (int i = 0; i < bytes.length; i++) out[i] = BYTE_TO_CHAR[bytes[i] & 0xff];
    return new String(out);
  }

  /** Ids of one pre-token (given as text). */
  int[] encode(String preToken) {
    int[] hit = cache.get(preToken);
    if (hit != null) return hit;
    int[] ids = merge(preToken.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    if (cache.size() >= CACHE_LIMIT) cache.clear();
    cache.put(preToken, ids);
    return ids;
  }

  private int[] merge(byte[] bytes) {
    int n = bytes.length;
    int[] sym = new int[n];
    int[] next = new int[n];
    int[] prev = new int[n];
    for (int i = 0; i < n; i++) {
      sym[i] = byteIds[bytes[i] & 0xff];
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    if (n == 1) return sym;
    // candidates: (rank, left position, left id, right id); stale ones are skipped
    PriorityQueue<long[]> queue = new PriorityQueue<>((x, y) -> x[0] != y[0] ? Long.compare(x[0], y[0]) : Long.compare(x[1], y[1]));
    for (int i = 0; i + 1 < n; i++) offer(queue, sym, i, i + 1);
    int count = n;
    while (!queue.isEmpty()) {
      long[] c = queue.poll();
      int i = (int) c[1];
      int j = next[i];
      if (sym[i] < 0 || j < 0 || sym[i] != (int) c[2] || sym[j] != (int) c[3]) continue;
      sym[i] = merged.get(key(sym[i], sym[j]));
      sym[j] = -2; // removed
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      count--;
      if (prev[i] >= 0) offer(queue, sym, prev[i], i);
      if (next[i] >= 0) offer(queue, sym, i, next[i]);
    }
    int[] out = new int[count];
    int k = 0;
    for (int i = 0; i >= 0; i = next[i]) out[k++] = sym[i];
    return out;
  }

  private void offer(PriorityQueue<long[]> queue, int[] sym, int i, int j) {
    Integer r = ranks.get(key(sym[i], sym[j]));
    if (r != null) queue.add(new long[] {r, i, sym[i], sym[j]});
  }
}
