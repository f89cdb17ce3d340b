package ai.zhiku.inference.engine;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * Which blocks of the paged KV cache are in use, and the prefix cache over them. A block is free,
 * held (by one or more sequences: a reference count), or cached: full, unreferenced and still
 * holding the keys and values of the tokens it is keyed by, so a later sequence with the same
 * prefix takes it instead of computing it again. Cached blocks are given out for new data in
 * least-recently-released order once the free ones are gone.
 *
 * <p>A full block is keyed by a hash chained over every token up to its end (so equal keys mean
 * equal prefixes, not just equal blocks); its tokens and its parent's key are kept too, and a
 * lookup compares them, so a 64-bit collision cannot hand out the wrong keys and values. Owned by
 * the engine thread; not thread-safe.
 */
public final class BlockPool {
  /** The key of the empty prefix, the parent of every first block. */
  static final long ROOT = 0x5a68696b75L;

  private final int blockSize;
  private final int[] refs;
  private final long[] key;
  private final long[] parent;
  private final int[][] tokens;
  private final boolean[] keyed;
  private final ArrayDeque<Integer> free = new ArrayDeque<>();
  private final LinkedHashSet<Integer> cached = new LinkedHashSet<>();
  private final Map<Long, Integer> byKey = new HashMap<>();
  private long queries;
  private long hits;

  public BlockPool(int blocks, int blockSize) {
    this.blockSize = blockSize;
    this.refs = new int[blocks];
    this.key = new long[blocks];
    this.parent = new long[blocks];
    this.tokens = new int[blocks][];
    this.keyed = new boolean[blocks];
    for (int b = 0; b < blocks; b++) free.add(b);
  }

  public int blocks() { return refs.length; }

  /** Blocks that can be given out now: free ones and cached ones no sequence holds. */
  public int available() { return free.size() + cached.size(); }

  /** Blocks held by sequences. */
  public int used() { return refs.length - available(); }

  /** Blocks whose contents the prefix cache can still hand out (held or not). */
  public int cachedBlocks() { return byKey.size(); }

  /** Prefix-cache lookups in tokens asked for, and tokens found, since the start. */
  public long queries() { return queries; }

  public long hits() { return hits; }

  /** The key of a block of {@code blockSize} tokens at {@code from} following the prefix keyed {@code parentKey}. */
  public long chain(long parentKey, int[] ids, int from) {
    long h = parentKey * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L;
    for (int i = from; i < from + blockSize; i++) {
      h ^= ids[i];
      h *= 0xff51afd7ed558ccdL;
      h ^= h >>> 33;
    }
    return h;
  }

  /**
   * Takes the cached blocks that hold the longest prefix of {@code keys} (one per full block of
   * {@code ids}, at most {@code limit} of them) and returns them, each now held once more.
   */
  public int[] takePrefix(long[] keys, int[] ids, int limit) {
    int n = 0;
    int[] found = new int[limit];
    while (n < limit) {
      Integer b = byKey.get(keys[n]);
      if (b == null || parent[b] != (n == 0 ? ROOT : keys[n - 1])
          || !Arrays.equals(tokens[b], 0, blockSize, ids, n * blockSize, (n + 1) * blockSize)) {
        break;
      }
      found[n++] = b;
    }
    queries += (long) limit * blockSize;
    hits += (long) n * blockSize;
    for (int i = 0; i < n; i++) hold(found[i]);
    return Arrays.copyOf(found, n);
  }

  /** Whether some block, held or cached, is keyed {@code k}. */
  public boolean contains(long k) { return byKey.containsKey(k); }

  private void hold(int b) {
    if (refs[b]++ == 0) cached.remove(b);
  }

  /** A block for new data, held once, or -1 when none is left; evicts the oldest cached block first. */
  public int allocate() {
    Integer b = free.poll();
    if (b == null) {
      Iterator<Integer> oldest = cached.iterator();
      if (!oldest.hasNext()) return -1;
      b = oldest.next();
      oldest.remove();
      forget(b);
    }
    refs[b] = 1;
    return b;
  }

  /**
   * Keys a held block that now holds {@code blockSize} tokens of {@code ids} from {@code from}, so
   * others can share it; a block of the same key already there stays the one the cache hands out.
   */
  public void publish(int b, long k, long parentKey, int[] ids, int from) {
    if (keyed[b] || byKey.containsKey(k)) return;
    keyed[b] = true;
    key[b] = k;
    parent[b] = parentKey;
    tokens[b] = Arrays.copyOfRange(ids, from, from + blockSize);
    byKey.put(k, b);
  }

  /** Drops one hold of each block; keyed ones stay cached until their memory is needed. */
  public void release(int[] blocks, int count) {
    for (int i = 0; i < count; i++) {
      int b = blocks[i];
      if (refs[b] <= 0) throw new IllegalStateException("block " + b + " released more often than held");
      if (--refs[b] == 0) {
        if (keyed[b]) cached.add(b);
        else free.addFirst(b);
      }
    }
  }

  private void forget(int b) {
    if (keyed[b]) {
      byKey.remove(key[b]);
      keyed[b] = false;
      tokens[b] = null;
    }
  }
}
