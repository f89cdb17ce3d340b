package ai.zhiku.inference.bench;

import ai.zhiku.inference.kernel.Bf16;

/**
 * Benchmark weights, uniform in [-0.05, 0.05), from a 64-bit linear congruential generator: the
 * values only have to be ordinary numbers, and billions of them are drawn per model.
 */
final class RandomBf16 {
  private long state;

  RandomBf16(long seed) {
    state = 0x9E3779B97F4A7C15L * (seed + 1);
  }

  short next() {
    state = state * 6364136223846793005L + 1442695040888963407L;
    return Bf16.fromFloat(((state >>> 40) / (float) (1 << 24) - 0.5f) * 0.1f);
  }
}
