package ai.zhiku.inference.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.inference.kernel.Bf16;
import ai.zhiku.inference.model.WeightLoader.Rows;
import ai.zhiku.inference.model.layers.Bf16Matrix;
import ai.zhiku.inference.model.layers.HostMatrix;
import ai.zhiku.inference.model.layers.Matrix;
import ai.zhiku.inference.model.layers.QuantizedMatrix;
import ai.zhiku.inference.weights.CheckpointException;
import ai.zhiku.inference.weights.SafetensorsWriter;
import ai.zhiku.inference.weights.WeightsIndex;
import ai.zhiku.inference.weights.quantized.PublishedLayouts;
import ai.zhiku.inference.weights.quantized.PublishedLayouts.Layer;
import ai.zhiku.inference.weights.quantized.QuantizedRows;
import ai.zhiku.inference.weights.quantized.StoredQuantization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Published quantized layers packed for the quantized products as stored: stacked row ranges keep
 * every weight (zero points and act order included), and the products equal a float64 product of the
 * dequantized weights within the int8 rounding of the activations.
 */
class StoredMatricesTest {
  @TempDir Path dir;

  @ParameterizedTest(name = "gptq {0} bits, {1} groups, sym {2}, act order {3}")
  @CsvSource({"4, 4, true, false", "4, 4, false, false", "4, 2, false, true", "8, 1, false, false", "8, 4, true, true"})
  void stackedGptqLayersKeepEveryWeightAndMultiplyAsTheirFloats(int bits, int groups, boolean sym, boolean actOrder) throws Exception {
    int cols = 64;
    Random rnd = new Random(bits * 100 + groups * 10 + (sym ? 1 : 0) + (actOrder ? 2 : 0));
    int[] gIdx = PublishedLayouts.groupIndex(cols, groups, actOrder ? rnd : null);
    Layer a = PublishedLayouts.random(rnd, 48, cols, bits, groups, sym, gIdx);
    Layer b = PublishedLayouts.random(rnd, 32, cols, bits, groups, sym, gIdx);
    SafetensorsWriter w = new SafetensorsWriter();
    PublishedLayouts.gptq(w, "a", a, true, true);
    PublishedLayouts.gptq(w, "b", b, true, true);
    Matrix m = pack(w, bits, groups == 1 ? -1 : cols / groups, sym, actOrder,
        List.of(new Rows("a.weight", 8, 32), Rows.all("b.weight")));
    assertThat(m).isInstanceOf(QuantizedMatrix.class);
    QuantizedMatrix q = (QuantizedMatrix) m;
    assertThat(q.rows()).isEqualTo(64);
    float[] expected = new float[64 * cols];
    for (int r = 0; r < 64; r++) {
      for (int k = 0; k < cols; k++) expected[r * cols + k] = r < 32 ? a.weight(r + 8, k) : b.weight(r - 32, k);
    }
    for (int r = 0; r < 64; r++) {
      for (int k = 0; k < cols; k++) {
        float e = expected[r * cols + k];
        assertThat(q.packed().weight(r, k)).as("weight %d %d", r, k).isCloseTo(e, org.assertj.core.data.Offset.offset(1e-6f + Math.abs(e) * 1e-6f));
      }
    }
    assertProductsMatch(q, expected, 64, cols, rnd);
  }

  @Test
  void awqAndChatGlmLayersPackAsStored() throws Exception {
    Random rnd = new Random(7);
    int cols = 64;
    Layer awq = PublishedLayouts.random(rnd, 32, cols, 4, 4, false, PublishedLayouts.groupIndex(cols, 4, null));
    SafetensorsWriter w = new SafetensorsWriter();
    PublishedLayouts.awq(w, "l", awq);
    w.write(dir.resolve("model.safetensors"));
    Files.writeString(dir.resolve("config.json"), "{\"quantization_config\":{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":16}}");
    QuantizedMatrix m = (QuantizedMatrix) pack(dir, List.of(Rows.all("l.weight")));
    float[] e = weights(awq);
    assertProductsMatch(m, e, 32, cols, rnd);
    Path glm = Files.createDirectories(dir.resolve("glm"));
    Layer int4 = PublishedLayouts.random(rnd, 32, cols, 4, 1, true, PublishedLayouts.groupIndex(cols, 1, null));
    SafetensorsWriter g = new SafetensorsWriter();
    PublishedLayouts.chatglm(g, "l", int4);
    g.write(glm.resolve("model.safetensors"));
    Files.writeString(glm.resolve("config.json"), "{\"quantization_bit\":4}");
    QuantizedMatrix c = (QuantizedMatrix) pack(glm, List.of(Rows.all("l.weight")));
    assertThat(c.packed().group()).isEqualTo(cols);
    assertProductsMatch(c, weights(int4), 32, cols, rnd);
  }

  @Test
  void groupsTheLayoutCannotHoldAreDequantizedToBfloat16AndActOrdersMustAgree() throws Exception {
    Random rnd = new Random(3);
    int cols = 48; // groups of 12 columns: not a multiple of 8
    Layer l = PublishedLayouts.random(rnd, 16, cols, 4, 4, false, PublishedLayouts.groupIndex(cols, 4, null));
    SafetensorsWriter w = new SafetensorsWriter();
    PublishedLayouts.gptq(w, "l", l, true, true);
    Layer other = PublishedLayouts.random(rnd, 16, cols, 4, 4, false, PublishedLayouts.groupIndex(cols, 4, rnd));
    PublishedLayouts.gptq(w, "m", other, true, true);
    Matrix m = pack(w, 4, 12, false, true, List.of(Rows.all("l.weight")));
    assertThat(m).isInstanceOf(Bf16Matrix.class);
    float[] e = weights(l);
    float[] y = new float[16];
    float[] x = new float[cols];
    for (int k = 0; k < cols; k++) {
      java.util.Arrays.fill(x, 0);
      x[k] = 1;
      ((HostMatrix) m).multiply(x, 1, y);
      for (int r = 0; r < 16; r++) assertThat(y[r]).isEqualTo(Bf16.toFloat(Bf16.fromFloat(e[r * cols + k])));
    }
    assertThatThrownBy(() -> pack(dir, List.of(Rows.all("l.weight"), Rows.all("m.weight"))))
        .isInstanceOf(CheckpointException.class).hasMessageContaining("act order");
  }

  private static float[] weights(Layer l) {
    float[] e = new float[l.rows() * l.cols()];
    for (int r = 0; r < l.rows(); r++) {
      for (int k = 0; k < l.cols(); k++) e[r * l.cols() + k] = l.weight(r, k);
    }
    return e;
  }

  private Matrix pack(SafetensorsWriter w, int bits, int groupSize, boolean sym, boolean actOrder, List<Rows> parts) throws Exception {
    w.write(dir.resolve("model.safetensors"));
    Files.writeString(dir.resolve("config.json"), "{\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":" + bits
        + ",\"group_size\":" + groupSize + ",\"desc_act\":" + actOrder + ",\"sym\":" + sym + "}}");
    return pack(dir, parts);
  }

  private static Matrix pack(Path dir, List<Rows> parts) {
    StoredQuantization q = StoredQuantization.detect(dir);
    try (WeightsIndex index = WeightsIndex.open(dir)) {
      return StoredMatrices.pack(parts, parts.stream().map(r -> QuantizedRows.open(index, q, r.tensor())).toList());
    }
  }

  /**
   * y = x · wᵀ for 3 random rows of x against a float64 product with the dequantized weights: the
   * difference is bounded by the activations' int8 rounding (half a step of max|x| / 127 per group),
   * which a wrong column order or a missing zero point would exceed many times.
   */
  private static void assertProductsMatch(QuantizedMatrix m, float[] w, int rows, int cols, Random rnd) {
    int n = 3;
    float[] x = new float[n * cols];
    for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
    float[] y = new float[n * rows];
    m.multiply(x, n, y);
    for (int i = 0; i < n; i++) {
      for (int r = 0; r < rows; r++) {
        double ref = 0;
        double bound = 1e-4;
        for (int k = 0; k < cols; k++) ref += (double) w[r * cols + k] * x[i * cols + k];
        for (int k = 0; k < cols; k++) bound += Math.abs(w[r * cols + k]) * peakOfRow(x, i, cols) / 254.0;
        assertThat((double) y[i * rows + r]).as("y[%d, %d]", i, r).isCloseTo(ref, org.assertj.core.data.Offset.offset(bound));
      }
    }
  }

  /** max |x| over row i: at least the peak of any group the products quantized it in. */
  private static double peakOfRow(float[] x, int i, int cols) {
    double peak = 0;
    for (int j = 0; j < cols; j++) peak = Math.max(peak, Math.abs(x[i * cols + j]));
    return peak;
  }
}
