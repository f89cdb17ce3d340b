package ai.zhiku.inference.sampling;

/**
 * The full-vocabulary passes of sampling: the largest logit, and e^((x - max) / T) of every logit
 * with their sum. On the Vector API where the JVM has it (16 lanes and the JDK's vector exp), a
 * plain loop otherwise. With 92,544 logits a token these passes were 90% of the engine thread's
 * time in a 64-sequence decode (scalar Math.exp, per-token arrays of candidates).
 */
abstract class Exponentials {
  static final Exponentials INSTANCE = choose();

  /** The largest of x[off, off + n). */
  abstract float max(float[] x, int off, int n);

  /** Elements per block of {@link #exp}'s partial sums: a draw scans the block sums, then one block. */
  static final int BLOCK = 512;

  /**
   * out[i] = e^((x[off + i] - max) * invT) for i in [0, n), and blockSums[b] the sum of out over
   * [b * BLOCK, (b + 1) * BLOCK); returns the sum of all.
   */
  abstract double exp(float[] x, int off, int n, float max, float invT, float[] out, double[] blockSums);

  private static Exponentials choose() {
    if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
      try {
        return new VectorExponentials();
      } catch (LinkageError | RuntimeException e) {
        // fall through to the plain loop
      }
    }
    return new Scalar();
  }

  static final class Scalar extends Exponentials {
    @Override
    float max(float[] x, int off, int n) {
      float m = Float.NEGATIVE_INFINITY;
      for (int i = off; i < off + n; i++) m = Math.max(m, x[i]);
      return m;
    }

    @Override
    double exp(float[] x, int off, int n, float max, float invT, float[] out, double[] blockSums) {
      double sum = 0;
      for (int b = 0; b * BLOCK < n; b++) {
        double s = 0;
        for (int i = b * BLOCK; i < Math.min(n, (b + 1) * BLOCK); i++) s += out[i] = (float) Math.exp((x[off + i] - max) * invT);
        blockSums[b] = s;
        sum += s;
      }
      return sum;
    }
  }
}
