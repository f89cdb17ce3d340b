package ai.zhiku.inference.kernel;

/**
 * Quantized products in Java, for CPUs without AVX512-VNNI: each row of a block is unpacked once
 * and met with every activation row. The integer sums are exact and the float32 ones run group by
 * group in the native kernel's order with the same fused multiply-adds, so both give the same bits.
 */
final class JavaQuantKernel {
  private JavaQuantKernel() {}

  private static final ThreadLocal<int[]> ROW = ThreadLocal.withInitial(() -> new int[0]);

  static void multiply(PackedWeights w, QuantizedActivations a, int n, float[] y, int b0, int b1) {
    int cols = w.cols();
    int rows = w.rows();
    int group = w.group();
    int groups = w.groups();
    int offset = w.offset();
    int[] u = ROW.get();
    if (u.length < cols) ROW.set(u = new int[cols]);
    byte[] q = a.q;
    for (int b = b0; b < b1; b++) {
      for (int lane = 0; lane < PackedWeights.BLOCK; lane++) {
        int o = b * PackedWeights.BLOCK + lane;
        if (o >= rows) return;
        for (int k = 0; k < cols; k++) u[k] = w.stored(o, k);
        for (int r = 0; r < n; r++) {
          float f = 0;
          int base = r * cols;
          for (int g = 0; g < groups; g++) {
            int s = 0;
            for (int k = g * group, end = k + group; k < end; k++) s += u[k] * q[base + k];
            int rg = r * groups + g;
            f = Math.fma((float) (s - offset * a.sums[rg]), w.scale(o, g) * a.scales[rg], f);
          }
          y[r * rows + o] = f;
        }
      }
    }
  }
}
