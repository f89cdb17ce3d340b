package ai.zhiku.inference.model.layers;

import ai.zhiku.inference.kernel.Bf16Matmul;

/**
 * The element-wise layer ops on float32 rows held in Java arrays, for decode steps with bfloat16
 * weights: between two products of our kernel the activations stay in Java instead of taking a
 * round trip through half a dozen small PyTorch ops. Same math as {@link Layers}.
 */
public final class RowOps {
  private RowOps() {}

  /** out[r] = w * x[r] / sqrt(mean(x[r]^2) + eps) for n rows of width d. */
  public static void rmsNorm(float[] x, float[] w, float eps, int n, int d, float[] out) {
    for (int r = 0; r < n; r++) {
      int o = r * d;
      double sq = 0;
      for (int i = 0; i < d; i++) sq += (double) x[o + i] * x[o + i];
      float inv = (float) (1.0 / Math.sqrt((float) (sq / d) + eps));
      for (int i = 0; i < d; i++) out[o + i] = x[o + i] * inv * w[i];
    }
  }

  /** out[r, i] = silu(gateUp[r, i]) * gateUp[r, ffn + i] for rows [r0, r1) of [gate | up], width 2 * ffn. */
  public static void swiGlu(float[] gateUp, int r0, int r1, int ffn, float[] out) {
    if (Bf16Matmul.nativeAttention()) {
      // vectorised exp: one Math.exp per value was 11.5 of 189 ms of a 16-sequence step on two threads
      Bf16Matmul.swiGlu(gateUp, r0, r1, ffn, out);
      return;
    }
    for (int r = r0; r < r1; r++) {
      int g = r * 2 * ffn;
      int o = r * ffn;
      for (int i = 0; i < ffn; i++) {
        float gate = gateUp[g + i];
        out[o + i] = gate / (1f + (float) Math.exp(-gate)) * gateUp[g + ffn + i];
      }
    }
  }

  /** x += y over the first len values. */
  public static void addInPlace(float[] x, float[] y, int len) {
    for (int i = 0; i < len; i++) x[i] += y[i];
  }

  /** Adds bias [d] to each of n rows of x. */
  public static void addRows(float[] x, float[] bias, int n, int d) {
    for (int r = 0; r < n; r++) {
      for (int i = 0; i < d; i++) x[r * d + i] += bias[i];
    }
  }
}
