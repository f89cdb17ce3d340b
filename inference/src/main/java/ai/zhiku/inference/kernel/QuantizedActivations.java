package ai.zhiku.inference.kernel;

/**
 * Activations [n, cols] quantized to int8 per group of columns, as the quantized products take
 * them (llama.cpp quantizes its activations the same way for Q8_0 and Q4_0 weights): per row and
 * group a scale {@code max|x| / 127}, the integers {@code rint(x * 127 / max|x|)} and their sum
 * (the products subtract the weights' unsigned offset times it). Reused per thread.
 */
final class QuantizedActivations {
  byte[] q = new byte[0];
  float[] scales = new float[0];
  int[] sums = new int[0];

  void quantize(float[] x, int n, int cols, int group) {
    int groups = cols / group;
    if (q.length < n * cols) q = new byte[n * cols];
    if (scales.length < n * groups) {
      scales = new float[n * groups];
      sums = new int[n * groups];
    }
    for (int r = 0; r < n; r++) {
      for (int g = 0; g < groups; g++) {
        int from = r * cols + g * group;
        float peak = 0;
        for (int k = from; k < from + group; k++) peak = Math.max(peak, Math.abs(x[k]));
        float inv = peak == 0 ? 0 : 127f / peak;
        int sum = 0;
        for (int k = from; k < from + group; k++) {
          int v = (int) Math.rint(x[k] * inv);
          q[k] = (byte) v;
          sum += v;
        }
        scales[r * groups + g] = peak / 127f;
        sums[r * groups + g] = sum;
      }
    }
  }

  /** The value the products use for x[r, k]: its integer times its group's scale. */
  float dequantized(int r, int k, int cols, int group) {
    return q[r * cols + k] * scales[r * (cols / group) + k / group];
  }
}
