package ai.zhiku.inference.weights.quantized;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.inference.weights.CheckpointException;
import ai.zhiku.inference.weights.SafetensorsWriter;
import ai.zhiku.inference.weights.WeightsIndex;
import ai.zhiku.inference.weights.quantized.PublishedLayouts.Layer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Each published layout written from its definition (PublishedLayouts) reads back element by element:
 * stored integer, scale, zero point and the dequantized weight, for every bits, group and order option.
 */
class QuantizedRowsTest {
  @TempDir Path dir;

  @ParameterizedTest(name = "{0} {1} bits, {2} groups, sym {3}, act order {4}, v1 {5}")
  @CsvSource({
      "gptq, 4, 4, true, false, true",
      "gptq, 4, 2, false, false, true",
      "gptq, 4, 4, false, true, true",
      "gptq, 8, 1, false, false, true",
      "gptq, 8, 4, true, true, true",
      "gptq, 4, 4, false, false, false",
      "awq, 4, 4, false, false, false",
      "awq, 4, 2, false, false, false",
      "chatglm, 4, 1, true, false, false",
      "chatglm, 8, 1, true, false, false"})
  void everyLayoutReadsBackElementByElement(String method, int bits, int groups, boolean sym, boolean actOrder, boolean v1) throws Exception {
    int rows = 48;
    int cols = 64;
    Random rnd = new Random(bits * 31 + groups * 7 + (sym ? 1 : 0) + (actOrder ? 2 : 0) + method.hashCode());
    Layer l = PublishedLayouts.random(rnd, rows, cols, bits, groups, sym, PublishedLayouts.groupIndex(cols, groups, actOrder ? rnd : null));
    SafetensorsWriter w = new SafetensorsWriter();
    String config;
    switch (method) {
      case "gptq" -> {
        PublishedLayouts.gptq(w, "layer", l, v1, true);
        config = "{\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":" + bits + ",\"group_size\":" + (groups == 1 ? -1 : cols / groups)
            + ",\"desc_act\":" + actOrder + ",\"sym\":" + sym + (v1 ? "" : ",\"checkpoint_format\":\"gptq_v2\"") + "}}";
      }
      case "awq" -> {
        PublishedLayouts.awq(w, "layer", l);
        config = "{\"quantization_config\":{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":" + cols / groups
            + ",\"zero_point\":true,\"version\":\"gemm\"}}";
      }
      default -> {
        PublishedLayouts.chatglm(w, "layer", l);
        config = "{\"quantization_bit\":" + bits + "}";
      }
    }
    w.write(dir.resolve("model.safetensors"));
    Files.writeString(dir.resolve("config.json"), config);
    StoredQuantization q = StoredQuantization.detect(dir);
    assertThat(q.method().name().toLowerCase()).isEqualTo(method);
    assertThat(q.bits()).isEqualTo(bits);
    try (WeightsIndex index = WeightsIndex.open(dir)) {
      assertThat(QuantizedRows.shapeOf(index, q, "layer.weight")).containsExactly(rows, cols);
      QuantizedRows read = QuantizedRows.open(index, q, "layer.weight");
      assertThat(read.rows()).isEqualTo(rows);
      assertThat(read.cols()).isEqualTo(cols);
      assertThat(read.groups()).isEqualTo(groups);
      for (int k = 0; k < cols; k++) assertThat(read.group(k)).as("group of column %d", k).isEqualTo(l.gIdx()[k]);
      for (int r = 0; r < rows; r++) {
        for (int g = 0; g < groups; g++) {
          assertThat(read.scale(r, g)).as("scale %d %d", r, g).isEqualTo(l.scale()[r * groups + g]);
          assertThat(read.zero(r, g)).as("zero %d %d", r, g).isEqualTo(l.zero()[r * groups + g]);
        }
        for (int k = 0; k < cols; k++) {
          assertThat(read.stored(r, k)).as("stored %d %d", r, k).isEqualTo(l.u()[r * cols + k]);
          assertThat(read.weight(r, k)).as("weight %d %d", r, k).isEqualTo(l.weight(r, k));
        }
      }
    }
  }

  @Test
  void unsupportedQuantizationIsRefusedNamingMethodBitsAndFile() throws Exception {
    Files.writeString(dir.resolve("config.json"), "{\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":3,\"group_size\":128}}");
    assertThatThrownBy(() -> StoredQuantization.detect(dir)).isInstanceOf(CheckpointException.class)
        .hasMessageContaining("config.json").hasMessageContaining("gptq").hasMessageContaining("3 bits");
    Files.writeString(dir.resolve("config.json"), "{\"quantization_config\":{\"quant_method\":\"exl2\",\"bits\":4,\"group_size\":128}}");
    assertThatThrownBy(() -> StoredQuantization.detect(dir)).hasMessageContaining("exl2").hasMessageContaining("4 bits");
    Files.writeString(dir.resolve("config.json"), "{\"quantization_config\":{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":128,"
        + "\"version\":\"gemv\"}}");
    assertThatThrownBy(() -> StoredQuantization.detect(dir)).hasMessageContaining("awq version 'gemv'");
    Files.writeString(dir.resolve("config.json"), "{\"architectures\":[\"Qwen2ForCausalLM\"]}");
    Files.writeString(dir.resolve("quantize_config.json"), "{\"bits\":2,\"group_size\":64}");
    assertThatThrownBy(() -> StoredQuantization.detect(dir)).hasMessageContaining("quantize_config.json").hasMessageContaining("2 bits");
    Files.delete(dir.resolve("quantize_config.json"));
    assertThat(StoredQuantization.detect(dir)).isNull();
  }
}
