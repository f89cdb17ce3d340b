package ai.zhiku.inference.model;

/**
 * Block tables for tests that think in sequence slots: slot s of at most {@link #SLOTS} holds
 * positions up to {@link #LENGTH}, in blocks interleaved with the other slots' (block j of slot s is
 * j * SLOTS + s), so no sequence's blocks are contiguous and a kernel reading the wrong block shows.
 */
final class Tables {
  static final int SLOTS = 4;
  static final int LENGTH = 512; // the longest golden case (qwen2 tool_call_result) has 313 + 12 tokens
  private static final int PER_SLOT = LENGTH / KvCache.DEFAULT_BLOCK_SIZE;

  private Tables() {}

  /** Blocks a cache needs for every slot. */
  static int blocks() { return SLOTS * PER_SLOT; }

  static int[] slot(int s) {
    if (s < 0 || s >= SLOTS) throw new IllegalArgumentException("slot " + s);
    int[] t = new int[PER_SLOT];
    for (int j = 0; j < PER_SLOT; j++) t[j] = j * SLOTS + s;
    return t;
  }
}
