package ai.zhiku.inference.weights.quantized;

import ai.zhiku.inference.weights.CheckpointException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How a checkpoint as published stores its quantized linear layers, read from its config:
 * <ul>
 *   <li>GPTQ ({@code quantization_config.quant_method: "gptq"} in config.json, or
 *       {@code quantize_config.json}): {@code qweight}/{@code qzeros}/{@code scales}/{@code g_idx}, 4 or 8
 *       bits, any group size (-1: one group per row), {@code desc_act} (a shuffled {@code g_idx}),
 *       {@code sym}; zero points stored minus one unless {@code checkpoint_format} is {@code gptq_v2};
 *   <li>AWQ ({@code quant_method: "awq"}, GEMM version): 4 bits, zero points, AWQ's packing order;
 *   <li>THUDM's ChatGLM int4/int8 ({@code quantization_bit} in config.json): int8 {@code weight} tensors
 *       (two signed 4-bit values a byte for int4) with one {@code weight_scale} per output row.
 * </ul>
 *
 * @param groupSize input columns per group of scales and zeros; -1 for one group per row
 * @param zerosMinusOne GPTQ (v1) stores each zero point minus one
 */
public record StoredQuantization(Method method, int bits, int groupSize, boolean sym, boolean descAct, boolean zerosMinusOne,
                                 String source) {
  public enum Method { GPTQ, AWQ, CHATGLM }

  private static final ObjectMapper JSON = new ObjectMapper();

  /** "gptq int4 (group 128, desc_act)" for logs and errors. */
  public String describe() {
    String group = groupSize < 0 ? "per row" : "group " + groupSize;
    return method.name().toLowerCase(Locale.ROOT) + " int" + bits + " (" + group + (descAct ? ", desc_act" : "")
        + (sym ? "" : ", zero points") + ")";
  }

  /** The quantization of the checkpoint in {@code dir}, or null when its weights are not stored quantized. */
  public static StoredQuantization detect(Path dir) {
    JsonNode config = read(dir.resolve("config.json"));
    if (config == null) return null;
    JsonNode q = config.get("quantization_config");
    String source = "config.json";
    if ((q == null || q.isNull()) && Files.isRegularFile(dir.resolve("quantize_config.json"))) {
      q = read(dir.resolve("quantize_config.json"));
      source = "quantize_config.json";
    }
    if (q != null && q.isObject()) return fromConfig(q, source);
    JsonNode bit = config.get("quantization_bit");
    if (bit != null && bit.isNumber()) {
      int bits = bit.asInt();
      if (bits != 4 && bits != 8) throw refuse("chatglm", bits, "config.json", "ChatGLM's int4 and int8 layouts");
      return new StoredQuantization(Method.CHATGLM, bits, -1, true, false, false, "config.json");
    }
    return null;
  }

  private static StoredQuantization fromConfig(JsonNode q, String source) {
    String method = text(q, "quant_method", q.has("w_bit") || q.has("zero_point") ? "awq" : "gptq").toLowerCase(Locale.ROOT);
    int bits = q.has("bits") ? q.get("bits").asInt() : q.path("w_bit").asInt(0);
    int group = q.has("group_size") ? q.get("group_size").asInt() : q.path("q_group_size").asInt(0);
    if (group == 0 || group < -1) throw new CheckpointException(source + ": " + method + " group_size " + group + " is not a group size");
    switch (method) {
      case "gptq" -> {
        if (bits != 4 && bits != 8) throw refuse(method, bits, source, "4 and 8 bits");
        String format = text(q, "checkpoint_format", "gptq").toLowerCase(Locale.ROOT);
        if (!format.equals("gptq") && !format.equals("gptq_v2")) {
          throw new CheckpointException(source + ": gptq checkpoint_format '" + format + "' is not supported; supported: gptq, gptq_v2");
        }
        return new StoredQuantization(Method.GPTQ, bits, group, q.path("sym").asBoolean(true), q.path("desc_act").asBoolean(false),
            format.equals("gptq"), source);
      }
      case "awq" -> {
        String version = text(q, "version", "gemm").toLowerCase(Locale.ROOT);
        if (bits != 4) throw refuse(method, bits, source, "4 bits");
        if (!version.equals("gemm")) {
          throw new CheckpointException(source + ": awq version '" + version + "' (" + bits + " bits) is not supported; supported: gemm");
        }
        if (group < 0) throw new CheckpointException(source + ": awq group_size " + group + " is not supported; give a positive group");
        return new StoredQuantization(Method.AWQ, bits, group, !q.path("zero_point").asBoolean(true), false, false, source);
      }
      default -> throw refuse(method, bits, source, "gptq (4, 8 bits), awq (4 bits, gemm), chatglm (quantization_bit 4, 8)");
    }
  }

  private static CheckpointException refuse(String method, int bits, String source, String supported) {
    return new CheckpointException(source + ": quantization method " + method + " with " + bits + " bits is not supported; supported: "
        + supported);
  }

  private static String text(JsonNode q, String field, String otherwise) {
    JsonNode v = q.get(field);
    return v == null || v.isNull() ? otherwise : v.asText();
  }

  private static JsonNode read(Path file) {
    if (!Files.isRegularFile(file)) return null;
    try {
      return JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new CheckpointException("cannot read " + file.getFileName() + ": " + e.getMessage(), e);
    }
  }
}
