package ai.zhiku.inference.kernel;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code y[n, rows] = x[n, cols] · wᵀ} for int8 or int4 weights ({@link PackedWeights}): the
 * activations are quantized to int8 per group ({@link QuantizedActivations}), the integer products
 * summed exactly per group and scaled into float32, split by blocks of 16 output rows over the
 * engine's compute threads. On AVX512-VNNI the native kernel runs them, else the Java one; both
 * give the same bits.
 */
public final class QuantizedProducts {
  private static final Logger log = LoggerFactory.getLogger(QuantizedProducts.class);
  private static final boolean NATIVE = pickNative();
  /** Without the native kernel: the Vector API one where the JVM has the module, else scalar Java. */
  private static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
  private static final ThreadLocal<QuantizedActivations> ACTIVATIONS = ThreadLocal.withInitial(QuantizedActivations::new);
  /** Activations in a matrix's act order, reused per thread. */
  private static final ThreadLocal<float[][]> PERMUTED = ThreadLocal.withInitial(() -> new float[1][0]);

  private QuantizedProducts() {}

  /** Which kernel runs the products: "native (AVX512-VNNI)", "Vector API" or "scalar Java". */
  public static String kernel() { return NATIVE ? "native (AVX512-VNNI)" : VECTOR ? "Vector API" : "scalar Java"; }

  public static void multiply(PackedWeights w, float[] x, int n, float[] y) {
    multiply(w, x, n, y, NATIVE);
  }

  /** As {@link #multiply(PackedWeights, float[], int, float[])}, on the native kernel or not (tests). */
  static void multiply(PackedWeights w, float[] x, int n, float[] y, boolean onNative) {
    if ((long) n * w.cols() > x.length || (long) n * w.rows() > y.length) {
      throw new IllegalArgumentException("quantized product shapes do not fit the arrays");
    }
    if (onNative && !NATIVE) throw new IllegalStateException("native quantized kernel unavailable: " + NativeQuantKernel.unavailable());
    QuantizedActivations a = ACTIVATIONS.get();
    a.quantize(inColumnOrder(w, x, n), n, w.cols(), w.group());
    int blocks = PackedWeights.blocks(w.rows());
    long perBlock = (long) PackedWeights.BLOCK * w.cols() * Math.max(1, n);
    Bf16Matmul.shared().forEach(blocks, perBlock, (b0, b1) -> {
      if (onNative) {
        NativeQuantKernel.multiply(w.data(), w.scales(), w.bits(), w.rows(), w.cols(), w.group(), a.q, a.scales, a.sums, n, y, b0, b1);
      } else if (VECTOR) {
        VectorQuantKernel.multiply(w, a, n, y, b0, b1);
      } else {
        JavaQuantKernel.multiply(w, a, n, y, b0, b1);
      }
      if (w.offsets() != null) addZeroPointTerms(w, a, n, y, b0, b1);
    });
  }

  /** x itself, or x's columns in the matrix's packed order (act-order checkpoints). */
  private static float[] inColumnOrder(PackedWeights w, float[] x, int n) {
    int[] order = w.order();
    if (order == null) return x;
    int cols = w.cols();
    float[][] holder = PERMUTED.get();
    if (holder[0].length < n * cols) holder[0] = new float[n * cols];
    float[] p = holder[0];
    for (int i = 0; i < n; i++) {
      int base = i * cols;
      for (int j = 0; j < cols; j++) p[base + j] = x[base + order[j]];
    }
    return p;
  }

  /**
   * Adds, for rows in blocks [b0, b1), each group's zero-point offset times the group's sum of
   * quantized activations: the part of {@code scale · (u − zero)} the kernels' {@code u − 8} leaves out.
   */
  private static void addZeroPointTerms(PackedWeights w, QuantizedActivations a, int n, float[] y, int b0, int b1) {
    int groups = w.groups();
    int rows = w.rows();
    float[] off = w.offsets();
    for (int i = 0; i < n; i++) {
      for (int b = b0; b < b1; b++) {
        int end = Math.min(PackedWeights.BLOCK, rows - b * PackedWeights.BLOCK);
        for (int lane = 0; lane < end; lane++) {
          float sum = 0;
          for (int g = 0; g < groups; g++) {
            sum += off[(b * groups + g) * PackedWeights.BLOCK + lane] * (a.scales[i * groups + g] * a.sums[i * groups + g]);
          }
          y[i * rows + b * PackedWeights.BLOCK + lane] += sum;
        }
      }
    }
  }

  /** The scalar Java kernel on rows blocks [b0, b1) (tests: the Vector API kernel must give its bits). */
  static void multiplyScalar(PackedWeights w, float[] x, int n, float[] y) {
    QuantizedActivations a = ACTIVATIONS.get();
    a.quantize(inColumnOrder(w, x, n), n, w.cols(), w.group());
    int blocks = PackedWeights.blocks(w.rows());
    JavaQuantKernel.multiply(w, a, n, y, 0, blocks);
    if (w.offsets() != null) addZeroPointTerms(w, a, n, y, 0, blocks);
  }

  /** Whether the native kernel is in use. */
  public static boolean nativeKernel() { return NATIVE; }

  /** The activations as the last product on this thread quantized them (tests: the reference's inputs). */
  static float activation(int r, int k, int cols, int group) {
    return ACTIVATIONS.get().dequantized(r, k, cols, group);
  }

  private static boolean pickNative() {
    String why = NativeQuantKernel.unavailable();
    if (why == null) return true;
    log.info("quantized products run on the Java kernel: the native one is unavailable ({})", why);
    return false;
  }
}
