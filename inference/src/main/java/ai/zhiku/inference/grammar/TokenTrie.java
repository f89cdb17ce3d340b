package ai.zhiku.inference.grammar;

import ai.zhiku.inference.tokenizer.Tokenizer;
import java.util.Arrays;

/**
 * A model's vocabulary as a trie over the tokens' UTF-8 bytes ({@link Tokenizer#tokenBytes}), so
 * a token mask walks each shared prefix once and stops at the first byte the grammar refuses:
 * most tokens are ruled out by their first byte. Built once per model; immutable.
 *
 * <p>Nodes are numbered in preorder; node 0 is the root. Children of node n are
 * {@code childNode[childStart[n] .. childStart[n+1])}, by {@code childByte}; the tokens whose bytes
 * end at n are {@code tokens[tokenStart[n] .. tokenStart[n+1])}.
 */
final class TokenTrie {
  final int vocab;
  /** Each id's bytes, null for ids that are not text. */
  final byte[][] bytes;
  final int[] childStart;
  final byte[] childByte;
  final int[] childNode;
  final int[] tokenStart;
  final int[] tokens;
  final int nodes;
  /** The longest token, in bytes. */
  final int maxLength;

  TokenTrie(Tokenizer tokenizer) {
    this.vocab = tokenizer.vocabSize();
    byte[][] bytes = new byte[vocab][];
    this.bytes = bytes;
    Integer[] order = new Integer[vocab];
    int n = 0;
    for (int id = 0; id < vocab; id++) {
      byte[] b = tokenizer.tokenBytes(id);
      if (b != null && b.length > 0) {
        bytes[id] = b;
        order[n++] = id;
      }
    }
    Integer[] sorted = Arrays.copyOf(order, n);
    Arrays.sort(sorted, (x, y) -> Arrays.compareUnsigned(bytes[x], bytes[y]));
    // one pass over the sorted tokens: a token shares with the previous one its common prefix's nodes
    int cap = 1024;
    int[] parent = new int[cap];
    byte[] edge = new byte[cap];
    int[] endOf = new int[n]; // node where each sorted token ends
    int count = 1;
    int[] path = new int[256];
    byte[] prev = new byte[0];
    path[0] = 0;
    for (int t = 0; t < n; t++) {
      byte[] b = bytes[sorted[t]];
      int common = 0;
      while (common < b.length && common < prev.length && b[common] == prev[common]) common++;
      if (path.length <= b.length) path = Arrays.copyOf(path, b.length * 2 + 1);
      for (int i = common; i < b.length; i++) {
        if (count == cap) {
          cap *= 2;
          parent = Arrays.copyOf(parent, cap);
          edge = Arrays.copyOf(edge, cap);
        }
        parent[count] = path[i];
        edge[count] = b[i];
        path[i + 1] = count++;
      }
      endOf[t] = path[b.length];
      prev = b;
    }
    this.nodes = count;
    int longest = 0;
    for (int t = 0; t < n; t++) longest = Math.max(longest, bytes[sorted[t]].length);
    this.maxLength = longest;
    childStart = new int[count + 1];
    for (int i = 1; i < count; i++) childStart[parent[i] + 1]++;
    for (int i = 0; i < count; i++) childStart[i + 1] += childStart[i];
    childByte = new byte[count - 1];
    childNode = new int[count - 1];
    int[] fill = Arrays.copyOf(childStart, count);
    for (int i = 1; i < count; i++) { // preorder: a parent's children come in byte order
      int at = fill[parent[i]]++;
      childByte[at] = edge[i];
      childNode[at] = i;
    }
    tokenStart = new int[count + 1];
    for (int t = 0; t < n; t++) tokenStart[endOf[t] + 1]++;
    for (int i = 0; i < count; i++) tokenStart[i + 1] += tokenStart[i];
    tokens = new int[n];
    int[] tfill = Arrays.copyOf(tokenStart, count);
    for (int t = 0; t < n; t++) tokens[tfill[endOf[t]]++] = sorted[t];
  }
}
