package ai.zhiku.inference.model;

import static ai.zhiku.inference.model.DecoderGoldenTest.argmax;
import static ai.zhiku.inference.model.DecoderGoldenTest.ints;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.model.DecoderModel.SeqStep;
import ai.zhiku.inference.model.layers.QuantizedMatrix;
import ai.zhiku.inference.weights.SafetensorsWriter;
import ai.zhiku.inference.weights.WeightsIndex;
import ai.zhiku.inference.weights.quantized.PublishedLayouts;
import ai.zhiku.inference.weights.quantized.PublishedLayouts.Layer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The golden checkpoints republished as GPTQ, AWQ and ChatGLM int4/int8 (their projections rounded
 * to nearest in the test, written in each format's layout) load as stored and give the logits of
 * the same dequantized weights served in float32, within the int8 rounding of the activations; and
 * the float32 greedy choice wherever its margin exceeds twice the measured difference (measured:
 * at most 0.014 on qwen2-tiny, 0.29 on internlm2-tiny, 0.25 on chatglm2-tiny, whose margins are
 * all smaller than that).
 */
class PrequantizedCheckpointTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  @ParameterizedTest(name = "{0} as {1} int{2}, groups of {3}, sym {4}, act order {5}")
  @CsvSource({
      "qwen2-tiny, gptq, 4, 16, false, true, 0.05, 1",
      "qwen2-tiny, gptq, 8, -1, true, false, 0.05, 1",
      "qwen2-tiny, awq, 4, 16, false, false, 0.05, 1",
      "internlm2-tiny, gptq, 4, 16, true, false, 0.5, 1",
      "chatglm2-tiny, chatglm, 4, -1, true, false, 0.5, 0",
      "chatglm2-tiny, chatglm, 8, -1, true, false, 0.5, 0"})
  void republishedGoldensServeTheirDequantizedWeights(String name, String method, int bits, int groupSize, boolean sym, boolean actOrder,
                                                     double bound, int minChecked) throws Exception {
    Path quantized = Files.createDirectories(tmp.resolve("q"));
    Path twin = Files.createDirectories(tmp.resolve("f"));
    republish(Goldens.dir(name), quantized, twin, method, bits, groupSize, sym, actOrder);
    JsonNode g = Goldens.json(name, "golden.json");
    try (ChatModel q = ModelFamilies.load(quantized, Engines.cpu(), WeightFormat.of(Precision.FLOAT32));
         ChatModel f = ModelFamilies.load(twin, Engines.cpu(), WeightFormat.of(Precision.FLOAT32));
         KvCache qc = q.model().newCache(Tables.blocks());
         KvCache fc = f.model().newCache(Tables.blocks())) {
      assertThat(q.model().precision()).isEqualTo(Precision.BFLOAT16);
      assertThat(q.model().weights().layers().get(0).gateUp()).isInstanceOf(QuantizedMatrix.class);
      assertThat(q.model().weights().layers().get(0).qkv()).isInstanceOf(QuantizedMatrix.class);
      double worst = 0;
      int checked = 0;
      for (JsonNode c : g.get("cases")) {
        int[] ids = ints(c.get("input_ids"));
        float[] a = q.model().forward(List.of(new SeqStep(Tables.slot(0), ids, 0)), qc, false)[0];
        float[] b = f.model().forward(List.of(new SeqStep(Tables.slot(0), ids, 0)), fc, false)[0];
        double max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        worst = Math.max(worst, max);
        float[] sorted = b.clone();
        java.util.Arrays.sort(sorted);
        if (sorted[sorted.length - 1] - sorted[sorted.length - 2] > 2 * max) {
          checked++;
          assertThat(argmax(a)).as("%s greedy choice", c.get("name").asText()).isEqualTo(argmax(b));
        }
      }
      System.out.printf("[prequantized] %s as %s int%d: logits differ from the dequantized weights in float32 by at most %.4f; "
          + "greedy choice checked in %d of %d cases%n", name, method, bits, worst, checked, g.get("cases").size());
      assertThat(worst).isLessThan(bound);
      assertThat(checked).as("cases whose margin allowed a check").isGreaterThanOrEqualTo(minChecked);
    }
  }

  @Test
  void aQuantizedCheckpointIsNotQuantizedAgain() throws Exception {
    Path quantized = Files.createDirectories(tmp.resolve("q"));
    republish(Goldens.dir("qwen2-tiny"), quantized, Files.createDirectories(tmp.resolve("f")), "gptq", 4, 16, true, false);
    assertThatThrownBy(() -> ModelFamilies.load(quantized, Engines.cpu(), WeightFormat.of(Precision.BFLOAT16, new Quantization(8, 128))))
        .isInstanceOf(ZhikuException.class).hasMessageContaining("already quantized").hasMessageContaining("gptq int4");
  }

  /** Projections of the float checkpoint in {@code from} to {@code quantized} in the method's layout, and dequantized to {@code twin}. */
  private static void republish(Path from, Path quantized, Path twin, String method, int bits, int groupSize, boolean sym,
                                boolean actOrder) throws Exception {
    ObjectNode config = (ObjectNode) JSON.readTree(from.resolve("config.json").toFile());
    try (Stream<Path> files = Files.list(from)) {
      for (Path p : files.toList()) {
        String n = p.getFileName().toString();
        if (n.startsWith("model") || n.startsWith("pytorch_model") || n.equals("config.json")) continue;
        Files.copy(p, quantized.resolve(n));
        Files.copy(p, twin.resolve(n));
      }
    }
    JSON.writeValue(twin.resolve("config.json").toFile(), config);
    switch (method) {
      case "chatglm" -> config.put("quantization_bit", bits);
      case "awq" -> config.putObject("quantization_config").put("quant_method", "awq").put("bits", bits).put("group_size", groupSize)
          .put("zero_point", true).put("version", "gemm");
      default -> config.putObject("quantization_config").put("quant_method", "gptq").put("bits", bits).put("group_size", groupSize)
          .put("desc_act", actOrder).put("sym", sym);
    }
    JSON.writeValue(quantized.resolve("config.json").toFile(), config);
    SafetensorsWriter q = new SafetensorsWriter();
    SafetensorsWriter f = new SafetensorsWriter();
    Random rnd = new Random(11);
    Map<Long, int[]> orders = new HashMap<>(); // one act order per input size: stacked projections share theirs
    try (WeightsIndex index = WeightsIndex.open(from)) {
      for (String t : index.names()) {
        long[] shape = index.info(t).shape();
        float[] v = index.floats(t);
        if (!projection(t)) {
          q.f32(t, v, shape);
          f.f32(t, v, shape);
          continue;
        }
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        int groups = groupSize < 0 ? 1 : cols / groupSize;
        int[] gIdx = actOrder ? orders.computeIfAbsent(shape[1], c -> PublishedLayouts.groupIndex(cols, groups, rnd))
            : PublishedLayouts.groupIndex(cols, groups, null);
        Layer l = PublishedLayouts.rtn(v, rows, cols, bits, groups, sym, gIdx);
        String base = t.substring(0, t.length() - ".weight".length());
        switch (method) {
          case "chatglm" -> PublishedLayouts.chatglm(q, base, l);
          case "awq" -> PublishedLayouts.awq(q, base, l);
          default -> PublishedLayouts.gptq(q, base, l, true, true);
        }
        float[] w = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
          for (int k = 0; k < cols; k++) w[r * cols + k] = l.weight(r, k);
        }
        f.f32(t, w, shape);
      }
    }
    q.write(quantized.resolve("model.safetensors"));
    f.write(twin.resolve("model.safetensors"));
  }

  private static boolean projection(String t) {
    for (String p : new String[] {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "wqkv", "attention.wo",
        "feed_forward.w", "query_key_value", "self_attention.dense", "dense_h_to_4h", "dense_4h_to_h"}) {
      if (t.contains(p) && t.endsWith(".weight")) return true;
    }
    return false;
  }
}
