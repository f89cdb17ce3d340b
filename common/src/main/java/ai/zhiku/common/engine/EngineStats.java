package ai.zhiku.common.engine;

/**
 * A chat engine's scheduler and paged KV cache at one moment, for metrics; totals count from the
 * engine's start.
 *
 * @param running sequences in the running batch
 * @param waiting sequences admitted to the engine but waiting for blocks or a batch place (preempted ones included)
 * @param kvBlocks blocks in the KV cache
 * @param kvBlocksUsed blocks held by sequences
 * @param kvBlocksCached blocks the prefix cache can hand out (held or not)
 * @param blockSize tokens per block
 * @param prefixQueryTokens prompt tokens looked up in the prefix cache
 * @param prefixHitTokens of those, tokens found there (not computed again)
 * @param preemptions sequences preempted for lack of blocks
 * @param steps forward passes run
 * @param stepHostNanos time of those steps spent outside the forward pass (scheduling, sampling, detokenizing)
 * @param stepForwardNanos time spent in the forward pass
 */
public record EngineStats(int running, int waiting, int kvBlocks, int kvBlocksUsed, int kvBlocksCached, int blockSize,
                          long prefixQueryTokens, long prefixHitTokens, long preemptions, long steps, long stepHostNanos,
                          long stepForwardNanos) {
  public static final EngineStats NONE = new EngineStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}
