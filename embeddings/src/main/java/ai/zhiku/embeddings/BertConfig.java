package ai.zhiku.embeddings;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The parts of a Hugging Face {@code BertConfig} ({@code config.json}) the encoder needs.
 *
 * @param hiddenSize {@code hidden_size}
 * @param layers {@code num_hidden_layers}
 * @param heads {@code num_attention_heads}
 * @param intermediateSize {@code intermediate_size}
 * @param maxPositions {@code max_position_embeddings}
 * @param layerNormEps {@code layer_norm_eps}
 */
record BertConfig(int hiddenSize, int layers, int heads, int intermediateSize, int maxPositions, float layerNormEps) {

  private static final ObjectMapper JSON = new ObjectMapper();

  BertConfig {
    if (hiddenSize <= 0 || layers <= 0 || heads <= 0 || hiddenSize % heads != 0) {
      throw new IllegalArgumentException(
          "config.json: hidden_size " + hiddenSize + " must be a positive multiple of num_attention_heads " + heads);
    }
  }

  int headSize() {
    return hiddenSize / heads;
  }

  static BertConfig read(Path dir) throws IOException {
    JsonNode c = JSON.readTree(dir.resolve("config.json").toFile());
    String type = c.path("model_type").asText("");
    if (!type.equals("bert")) {
      throw new IllegalArgumentException(
          "config.json: model_type '" + type + "' is not supported on the PyTorch path (only bert); export it to ONNX");
    }
    String act = c.path("hidden_act").asText("gelu");
    if (!act.equals("gelu")) {
      throw new IllegalArgumentException("config.json: hidden_act '" + act + "' is not supported (only gelu)");
    }
    String positions = c.path("position_embedding_type").asText("absolute");
    if (!positions.equals("absolute")) {
      throw new IllegalArgumentException(
          "config.json: position_embedding_type '" + positions + "' is not supported (only absolute)");
    }
    return new BertConfig(
        c.path("hidden_size").asInt(),
        c.path("num_hidden_layers").asInt(),
        c.path("num_attention_heads").asInt(),
        c.path("intermediate_size").asInt(4 * c.path("hidden_size").asInt()),
        c.path("max_position_embeddings").asInt(512),
        (float) c.path("layer_norm_eps").asDouble(1e-12));
  }
}
