package ai.zhiku.inference.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class QuantizedProductsTest {
  private static float[] gaussian(Random rnd, int n, float scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) v[i] = (float) rnd.nextGaussian() * scale;
    return v;
  }

  private static PackedWeights pack(float[] w, int bits, int rows, int cols, int group) {
    PackedWeights p = PackedWeights.allocate(bits, rows, cols, group);
    float[] block = new float[PackedWeights.BLOCK * cols];
    for (int b = 0; b * PackedWeights.BLOCK < rows; b++) {
      int count = Math.min(PackedWeights.BLOCK, rows - b * PackedWeights.BLOCK);
      System.arraycopy(w, b * PackedWeights.BLOCK * cols, block, 0, count * cols);
      p.pack(b, block, count);
    }
    return p;
  }

  @ParameterizedTest
  @CsvSource({"8, 37, 256, 128, 1", "8, 37, 256, 64, 9", "4, 37, 256, 128, 1", "4, 50, 384, 32, 3", "4, 16, 128, 128, 17",
      "8, 64, 1024, 128, 8"})
  void matchesAFloat64ReferenceOverTheDequantizedValues(int bits, int rows, int cols, int group, int n) {
    Random rnd = new Random(bits * 1000L + rows * 7L + n);
    float[] w = gaussian(rnd, rows * cols, 0.05f);
    float[] x = gaussian(rnd, n * cols, 1f);
    x[3] = 40f; // an outlier, as activations have
    PackedWeights p = pack(w, bits, rows, cols, group);
    float[] y = new float[n * rows];
    QuantizedProducts.multiply(p, x, n, y, false);
    double worstQuantError = 0;
    for (int r = 0; r < n; r++) {
      for (int o = 0; o < rows; o++) {
        double ref = 0;
        double magnitude = 0;
        double exact = 0;
        for (int k = 0; k < cols; k++) {
          double wq = p.dequantized(o, k);
          double xq = QuantizedProducts.activation(r, k, cols, group);
          ref += wq * xq;
          magnitude += Math.abs(wq * xq);
          exact += (double) w[o * cols + k] * x[r * cols + k];
        }
        double err = Math.abs(y[r * rows + o] - ref);
        // float32 rounding of the per-group scale products and of the sums over groups
        assertTrue(err <= 1e-6 * magnitude + 1e-6, "row " + r + " output " + o + ": " + y[r * rows + o] + " vs " + ref);
        worstQuantError = Math.max(worstQuantError, Math.abs(exact - ref) / (magnitude + 1e-9));
      }
    }
    // the quantization itself (not the arithmetic) moves results by a few percent of their magnitude at most
    assertTrue(worstQuantError < (bits == 8 ? 0.02 : 0.2), "quantization error " + worstQuantError);
  }

  @ParameterizedTest
  @CsvSource({"8, 37, 256, 128, 1", "8, 50, 512, 64, 13", "4, 37, 256, 128, 1", "4, 33, 384, 32, 8", "4, 16, 128, 128, 17"})
  void theNativeKernelGivesTheJavaKernelsBits(int bits, int rows, int cols, int group, int n) {
    assumeTrue(QuantizedProducts.nativeKernel(), "no AVX512-VNNI kernel here: " + NativeQuantKernel.unavailable());
    Random rnd = new Random(31L * bits + rows + n);
    PackedWeights p = pack(gaussian(rnd, rows * cols, 0.1f), bits, rows, cols, group);
    float[] x = gaussian(rnd, n * cols, 1f);
    float[] java = new float[n * rows];
    float[] vnni = new float[n * rows];
    QuantizedProducts.multiply(p, x, n, java, false);
    QuantizedProducts.multiply(p, x, n, vnni, true);
    for (int i = 0; i < java.length; i++) {
      assertEquals(Float.floatToIntBits(java[i]), Float.floatToIntBits(vnni[i]), "element " + i + ": " + java[i] + " vs " + vnni[i]);
    }
  }

  @ParameterizedTest
  @CsvSource({"8, 37, 256, 128, 1", "8, 50, 512, 64, 13", "4, 37, 256, 128, 2", "4, 33, 384, 32, 8"})
  void theVectorKernelGivesTheScalarKernelsBits(int bits, int rows, int cols, int group, int n) {
    Random rnd = new Random(17L * bits + rows + n);
    PackedWeights p = pack(gaussian(rnd, rows * cols, 0.1f), bits, rows, cols, group);
    float[] x = gaussian(rnd, n * cols, 1f);
    float[] scalar = new float[n * rows];
    float[] vector = new float[n * rows];
    QuantizedProducts.multiplyScalar(p, x, n, scalar);
    QuantizedProducts.multiply(p, x, n, vector, false); // the Vector API kernel: surefire loads the module
    for (int i = 0; i < scalar.length; i++) {
      assertEquals(Float.floatToIntBits(scalar[i]), Float.floatToIntBits(vector[i]), "element " + i + ": " + scalar[i] + " vs " + vector[i]);
    }
  }

  @ParameterizedTest
  @CsvSource({"8, 127", "4, 8"})
  void packingRoundTripsTheIntegersAndScales(int bits, int peak) {
    int rows = 20;
    int cols = 64;
    float[] w = new float[rows * cols];
    for (int i = 0; i < w.length; i++) w[i] = ((i * 37) % (2 * peak + 1) - peak) * 0.01f;
    w[5] = -peak * 0.01f; // each group's peak magnitude
    PackedWeights p = pack(w, bits, rows, cols, 32);
    for (int r = 0; r < rows; r++) {
      for (int k = 0; k < cols; k++) {
        float got = p.dequantized(r, k);
        float step = Math.abs(p.scale(r, k / 32));
        int q = p.quantized(r, k);
        // int4's range is [-8, 7] around the peak mapped to -8: the opposite sign's largest value clamps to 7
        float allowed = bits == 4 && q == 7 ? step : step / 2;
        assertTrue(Math.abs(got - w[r * cols + k]) <= allowed + 1e-7, "row " + r + " col " + k + ": " + got + " vs " + w[r * cols + k]);
        assertTrue(bits == 8 ? q >= -127 && q <= 127 : q >= -8 && q <= 7, "integer " + q);
      }
    }
    assertEquals(PackedWeights.blocks(rows) * PackedWeights.blockBytes(bits, cols) + 4L * 2 * 16 * 2, p.bytes());
  }

  @ParameterizedTest
  @CsvSource({"2048, 128, 128", "896, 128, 128", "13696, 128, 128", "64, 128, 64", "120, 64, 40", "100, 128, 0", "12, 128, 0"})
  void theGroupDividesTheColumns(int cols, int wanted, int expected) {
    assertEquals(expected, PackedWeights.groupFor(cols, wanted));
  }
}
