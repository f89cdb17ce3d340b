package ai.zhiku.inference.grammar;

import ai.zhiku.inference.grammar.JsonMachine.State;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One compiled output format: forced token ids before the JSON (a family's tool-call opening), the
 * JSON's shape, forced ids after it, then one of the model's stop ids. The token mask of each JSON
 * state is computed once by walking the vocabulary trie and cached here, shared by every sequence
 * that uses this format (the cache is bounded and safe to use from the sampling threads).
 */
final class Grammar {
  private static final int CACHE_LIMIT = 4096;

  final TokenTrie trie;
  final Shape root;
  final int[] prefix;
  final int[] suffix;
  final int[] stopIds;
  private final ConcurrentHashMap<List<State>, long[]> masks = new ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicLong computed = new java.util.concurrent.atomic.AtomicLong();

  Grammar(TokenTrie trie, Shape root, int[] prefix, int[] suffix, int[] stopIds) {
    this.trie = trie;
    this.root = root;
    this.prefix = prefix;
    this.suffix = suffix;
    this.stopIds = stopIds;
  }

  byte[] tokenBytes(int id) { return id >= 0 && id < trie.vocab ? trie.bytes[id] : null; }

  /** How many masks were computed (not found in the cache), for tests and benchmarks. */
  long computedMasks() { return computed.get(); }

  /** The tokens whose bytes the JSON may continue with from {@code conf[0, n)}; do not modify. */
  long[] mask(State[] conf, int n) {
    List<State> key = List.of(Arrays.copyOf(conf, n));
    long[] m = masks.get(key);
    if (m != null) return m;
    m = new long[(trie.vocab + 63) >>> 6];
    JsonMachine.Out[] outs = new JsonMachine.Out[trie.maxLength + 1];
    walk(0, conf, n, m, outs, 0);
    computed.incrementAndGet();
    if (masks.size() >= CACHE_LIMIT) masks.clear();
    masks.put(key, m);
    return m;
  }

  private void walk(int node, State[] conf, int n, long[] mask, JsonMachine.Out[] outs, int depth) {
    JsonMachine.Out out = outs[depth];
    if (out == null) out = outs[depth] = new JsonMachine.Out();
    int end = trie.childStart[node + 1];
    for (int c = trie.childStart[node]; c < end; c++) {
      int b = trie.childByte[c] & 0xff;
      out.clear();
      for (int i = 0; i < n; i++) JsonMachine.feed(conf[i], b, out);
      if (out.size == 0) continue;
      int child = trie.childNode[c];
      for (int t = trie.tokenStart[child]; t < trie.tokenStart[child + 1]; t++) {
        int id = trie.tokens[t];
        mask[id >>> 6] |= 1L << id;
      }
      if (trie.childStart[child] < trie.childStart[child + 1]) {
        walk(child, out.states, out.size, mask, outs, depth + 1); // deeper levels use their own buffers
      }
    }
  }
}
