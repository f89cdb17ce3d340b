package ai.zhiku.inference.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.FloatBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class Bf16MatmulTest {

  @Test
  void roundsToNearestEvenLikePyTorch() {
    assertThat(Bf16.fromFloat(1.0f)).isEqualTo((short) 0x3f80);
    assertThat(Bf16.fromFloat(-1.5f)).isEqualTo((short) 0xbfc0);
    // exactly half way: ties go to the even neighbour
    assertThat(Bf16.fromFloat(Float.intBitsToFloat(0x3f808000))).isEqualTo((short) 0x3f80);
    assertThat(Bf16.fromFloat(Float.intBitsToFloat(0x3f818000))).isEqualTo((short) 0x3f82);
    // just above half way rounds up, just below rounds down
    assertThat(Bf16.fromFloat(Float.intBitsToFloat(0x3f808001))).isEqualTo((short) 0x3f81);
    assertThat(Bf16.fromFloat(Float.intBitsToFloat(0x3f807fff))).isEqualTo((short) 0x3f80);
    // overflow to infinity, infinities and NaN kept
    assertThat(Bf16.fromFloat(Float.MAX_VALUE)).isEqualTo((short) 0x7f80);
    assertThat(Bf16.fromFloat(Float.NEGATIVE_INFINITY)).isEqualTo((short) 0xff80);
    assertThat(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(Float.NaN)))).isTrue();
    assertThat(Bf16.toFloat(Bf16.fromFloat(0.15625f))).isEqualTo(0.15625f); // exactly representable
  }

  /** Shapes that hit every path: tails of the vector loop, odd output counts, 1-3 rows and tiles of 4, columns in several chunks, wide single rows, both threads. */
  @ParameterizedTest
  @CsvSource({"37,70,1", "37,70,3", "37,70,5", "300,272,1", "300,272,4", "300,272,9", "1024,128,6", "513,256,2", "64,32,47", "40,1100,5", "33,4100,1", "40,4096,1"})
  void productsMatchADoublePrecisionReference(int out, int in, int rows) {
    Random rnd = new Random(out * 31L + in * 7L + rows);
    short[] w = new short[out * in];
    for (int i = 0; i < w.length; i++) w[i] = Bf16.fromFloat((float) rnd.nextGaussian() * 0.2f);
    float[] x = new float[rows * in];
    for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
    // the products take the activations rounded to bfloat16, as PyTorch's bfloat16 layers do
    float[] xr = new float[x.length];
    short[] xb = new short[x.length];
    for (int i = 0; i < x.length; i++) {
      xb[i] = Bf16.fromFloat(x[i]);
      xr[i] = Bf16.toFloat(xb[i]);
    }
    double[] expected = new double[rows * out];
    double[] scale = new double[rows * out];
    for (int r = 0; r < rows; r++) {
      for (int o = 0; o < out; o++) {
        double s = 0;
        double a = 0;
        for (int k = 0; k < in; k++) {
          double p = (double) Bf16.toFloat(w[o * in + k]) * xr[r * in + k];
          s += p;
          a += Math.abs(p);
        }
        expected[r * out + o] = s;
        scale[r * out + o] = a;
      }
    }
    float[] shared = new float[rows * out];
    Bf16Matmul.shared().multiply(w, out, in, x, rows, shared);
    float[] scalar = new float[rows * out];
    new ScalarBf16Kernel().multiply(w, in, xr, rows, scalar, out, 0, out);
    float[] vector = new float[rows * out];
    new VectorBf16Kernel().multiply(w, in, xr, rows, vector, out, 0, out);
    float[] nat = new float[rows * out];
    if (NativeBf16Kernel.unavailable() == null) NativeBf16Kernel.multiply(w, in, xb, rows, nat, out, 0, out);
    for (int i = 0; i < expected.length; i++) {
      double tol = 1e-5 + 1e-6 * scale[i];
      assertThat((double) shared[i]).as("shared, element %d", i).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(tol));
      assertThat((double) scalar[i]).as("scalar, element %d", i).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(tol));
      assertThat((double) vector[i]).as("vector, element %d", i).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(tol));
      if (NativeBf16Kernel.unavailable() == null) {
        assertThat((double) nat[i]).as("native, element %d", i).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(tol));
      }
    }
  }

  @Test
  void outputRangesSplitTheWorkWithoutOverlap() {
    int out = 50;
    int in = 40;
    short[] w = new short[out * in];
    for (int i = 0; i < w.length; i++) w[i] = Bf16.fromFloat((i % 11) - 5f);
    float[] x = new float[2 * in];
    java.util.Arrays.fill(x, 1f);
    float[] y = new float[2 * out];
    java.util.Arrays.fill(y, Float.NaN);
    Bf16Kernel k = new VectorBf16Kernel();
    k.multiply(w, in, x, 2, y, out, 0, 17);
    for (int o = 17; o < out; o++) assertThat(y[o]).as("column %d untouched", o).isNaN();
    k.multiply(w, in, x, 2, y, out, 17, out);
    for (int o = 0; o < out; o++) {
      float s = 0;
      for (int i = 0; i < in; i++) s += (i + o * in) % 11 - 5f;
      assertThat(y[o]).isEqualTo(s);
      assertThat(y[out + o]).isEqualTo(s);
    }
  }

  @Test
  void widensExactlyAndRefusesArraysTooSmall() {
    int in = 300;
    short[] w = new short[600 * in];
    for (int i = 0; i < w.length; i++) w[i] = (short) (0x3c00 + i % 4000);
    FloatBuffer dst = FloatBuffer.allocate(500 * in);
    Bf16Matmul.shared().widen(w, in, 100, 500, dst);
    for (int i = 0; i < 500 * in; i++) assertThat(dst.get(i)).isEqualTo(Bf16.toFloat(w[100 * in + i]));
    assertThatThrownBy(() -> Bf16Matmul.shared().multiply(w, 600, in, new float[in - 1], 1, new float[600]))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Bf16Matmul.shared().multiply(w, 601, in, new float[in], 1, new float[601]))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void nativeOutputRangesSplitTheWorkWithoutOverlap() {
    assumeTrue(NativeBf16Kernel.unavailable() == null, () -> "no native kernel here: " + NativeBf16Kernel.unavailable());
    int out = 50;
    int in = 40;
    short[] w = new short[out * in];
    for (int i = 0; i < w.length; i++) w[i] = Bf16.fromFloat((i % 11) - 5f);
    short[] x = new short[6 * in];
    java.util.Arrays.fill(x, Bf16.fromFloat(1f));
    float[] y = new float[6 * out];
    java.util.Arrays.fill(y, Float.NaN);
    NativeBf16Kernel.multiply(w, in, x, 6, y, out, 0, 17);
    for (int r = 0; r < 6; r++) {
      for (int o = 17; o < out; o++) assertThat(y[r * out + o]).as("row %d column %d untouched", r, o).isNaN();
    }
    NativeBf16Kernel.multiply(w, in, x, 6, y, out, 17, out);
    for (int o = 0; o < out; o++) {
      float s = 0;
      for (int i = 0; i < in; i++) s += (i + o * in) % 11 - 5f;
      for (int r = 0; r < 6; r++) assertThat(y[r * out + o]).isEqualTo(s);
    }
  }

  /** The vectorised SwiGLU against the float64 formula, over gates from -100 to 100 and a width with a tail. */
  @Test
  void nativeSwiGluMatchesTheFormula() {
    assumeTrue(NativeBf16Kernel.attentionUnavailable() == null, () -> "no native kernel here: " + NativeBf16Kernel.attentionUnavailable());
    int ffn = 1000;
    int rows = 3;
    float[] gateUp = new float[rows * 2 * ffn];
    Random rnd = new Random(7);
    for (int r = 0; r < rows; r++) {
      for (int i = 0; i < ffn; i++) {
        gateUp[r * 2 * ffn + i] = r == 0 ? -100f + 0.2f * i : (float) rnd.nextGaussian() * (r == 1 ? 1f : 8f);
        gateUp[r * 2 * ffn + ffn + i] = (float) rnd.nextGaussian();
      }
    }
    float[] out = new float[rows * ffn];
    java.util.Arrays.fill(out, Float.NaN);
    Bf16Matmul.swiGlu(gateUp, 1, rows, ffn, out);
    for (int i = 0; i < ffn; i++) assertThat(out[i]).as("row 0 untouched").isNaN();
    Bf16Matmul.swiGlu(gateUp, 0, 1, ffn, out);
    for (int r = 0; r < rows; r++) {
      for (int i = 0; i < ffn; i++) {
        double g = gateUp[r * 2 * ffn + i];
        double expected = g / (1 + Math.exp(-g)) * gateUp[r * 2 * ffn + ffn + i];
        // a few float32 roundings on top of exp's 1-2 ulp
        assertThat((double) out[r * ffn + i]).as("row %d gate %f", r, g)
            .isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-6 * Math.abs(expected) + 1e-30));
      }
    }
  }

  @Test
  void theNativeKernelIsInUseOnCpusWithBf16Instructions() {
    // the build compiles it with gcc; CI machines are AVX512-BF16 EPYCs
    if (CpuFlags.has("avx512_bf16") && !"java".equals(System.getProperty("zhiku.bf16.kernel"))) {
      assertThat(NativeBf16Kernel.unavailable()).isNull();
      assertThat(Bf16Matmul.nativeKernel()).isTrue();
    } else {
      assertThat(Bf16Matmul.nativeKernel()).isFalse();
    }
  }

  @Test
  void attentionAndSwiGluRunNativelyOnAnyAvx512Cpu() {
    boolean avx512 = CpuFlags.has("avx512f") && CpuFlags.has("avx512bw") && CpuFlags.has("avx512vl");
    if (avx512 && !"java".equals(System.getProperty("zhiku.bf16.kernel"))) {
      assertThat(NativeBf16Kernel.attentionUnavailable()).isNull();
      assertThat(Bf16Matmul.nativeAttention()).isTrue();
    } else {
      assertThat(Bf16Matmul.nativeAttention()).isFalse();
    }
  }

  @Test
  void theVectorKernelIsInUseInTests() {
    // surefire starts the JVM with --add-modules jdk.incubator.vector, as bin/zhiku and the images do
    assertThat(Bf16Matmul.vectorized()).isTrue();
  }
}
