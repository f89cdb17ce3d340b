package ai.zhiku.embeddings;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How a model's token vectors become one sentence vector, as its sentence-transformers files say:
 * {@code modules.json} (is there a Pooling module, is there a Normalize module),
 * {@code 1_Pooling/config.json} (CLS or mean) and {@code sentence_bert_config.json}
 * ({@code max_seq_length}). A directory without these files gets the bge recipe: CLS, normalised.
 *
 * @param mode CLS vector or mean over the attended tokens
 * @param normalize L2-normalise the pooled vector
 * @param maxSeqLength sentence-transformers' max_seq_length, 0 when not given
 */
public record SentencePooling(Mode mode, boolean normalize, int maxSeqLength) {

  public enum Mode { CLS, MEAN }

  /** The recipe of bge models: CLS vector, L2-normalised. */
  public static final SentencePooling BGE = new SentencePooling(Mode.CLS, true, 512);

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Reads the pooling recipe of a model directory. */
  public static SentencePooling read(Path dir) throws IOException {
    Path modules = dir.resolve("modules.json");
    int maxSeqLength = readMaxSeqLength(dir);
    if (!Files.isRegularFile(modules)) {
      Path poolingConfig = dir.resolve("1_Pooling").resolve("config.json");
      Mode mode = Files.isRegularFile(poolingConfig) ? readMode(poolingConfig) : Mode.CLS;
      return new SentencePooling(mode, true, maxSeqLength);
    }
    JsonNode list = JSON.readTree(modules.toFile());
    Mode mode = Mode.CLS;
    boolean normalize = false;
    for (JsonNode module : list) {
      String type = module.path("type").asText("");
      if (type.endsWith(".Pooling")) {
        Path config = dir.resolve(module.path("path").asText("1_Pooling")).resolve("config.json");
        mode = Files.isRegularFile(config) ? readMode(config) : Mode.MEAN;
      } else if (type.endsWith(".Normalize")) {
        normalize = true;
      }
    }
    return new SentencePooling(mode, normalize, maxSeqLength);
  }

  private static Mode readMode(Path config) throws IOException {
    JsonNode node = JSON.readTree(config.toFile());
    if (node.path("pooling_mode_cls_token").asBoolean(false)) {
      return Mode.CLS;
    }
    if (node.path("pooling_mode_mean_tokens").asBoolean(false)) {
      return Mode.MEAN;
    }
    String named = node.path("pooling_mode").asText("");
    if (named.equals("cls")) {
      return Mode.CLS;
    }
    if (named.equals("mean")) {
      return Mode.MEAN;
    }
    throw new IOException("unsupported pooling in 1_Pooling/config.json (only CLS and mean are supported): " + node);
  }

  private static int readMaxSeqLength(Path dir) throws IOException {
    Path config = dir.resolve("sentence_bert_config.json");
    if (!Files.isRegularFile(config)) {
      return 0;
    }
    return JSON.readTree(config.toFile()).path("max_seq_length").asInt(0);
  }

  /**
   * Pools one row of a {@code [seq, hidden]} last_hidden_state laid out flat in {@code hidden}
   * starting at {@code offset}; {@code length} is the number of attended (unpadded) tokens.
   */
  float[] pool(float[] hidden, int offset, int length, int hiddenSize) {
    float[] out = new float[hiddenSize];
    if (mode == Mode.CLS) {
      System.arraycopy(hidden, offset, out, 0, hiddenSize);
    } else {
      double[] sum = new double[hiddenSize];
      for (int t = 0; t < length; t++) {
        int base = offset + t * hiddenSize;
        for (int d = 0; d < hiddenSize; d++) {
          sum[d] += hidden[base + d];
        }
      }
      for (int d = 0; d < hiddenSize; d++) {
        out[d] = (float) (sum[d] / Math.max(1, length));
      }
    }
    return out;
  }

  /** L2-normalises in place when this recipe says so; returns the same array. */
  float[] finish(float[] vector) {
    if (!normalize) {
      return vector;
    }
    double norm = 0;
    for (float v : vector) {
      norm += (double) v * v;
    }
    // sentence-transformers' Normalize divides by max(norm, 1e-12)
    double scale = 1.0 / Math.max(Math.sqrt(norm), 1e-12);
    for (int i = 0; i < vector.length; i++) {
      vector[i] = (float) (vector[i] * scale);
    }
    return vector;
  }
}
