package ai.zhiku.embeddings;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The bge-small-zh-v1.5 golden file ({@code golden/bge-small-zh-hf/golden.json}), read once. */
final class BgeGolden {

  record Case(
      String name,
      String text,
      long[] inputIds,
      String[] tokens,
      int tokensBeforeTruncation,
      boolean truncated,
      float[] embedding,
      float[][] hiddenFirst4) {}

  static final Path DIR = goldenDir().resolve("bge-small-zh-hf");
  private static BgeGolden instance;

  final Map<String, Case> cases = new LinkedHashMap<>();
  final String queryInstruction;
  final List<String> queries = new ArrayList<>();
  final List<String> passages = new ArrayList<>();
  final List<String> batchNames = new ArrayList<>();
  final float[][] batchEmbeddings;

  private BgeGolden(JsonNode root) {
    queryInstruction = root.path("query_instruction").asText();
    for (JsonNode c : root.path("cases")) {
      float[][] hidden = null;
      if (c.has("last_hidden_state_first4")) {
        hidden = new float[4][];
        for (int i = 0; i < 4; i++) {
          hidden[i] = floats(c.path("last_hidden_state_first4").get(i));
        }
      }
      String[] tokens = new String[c.path("tokens").size()];
      for (int i = 0; i < tokens.length; i++) {
        tokens[i] = c.path("tokens").get(i).asText();
      }
      Case kase =
          new Case(
              c.path("name").asText(),
              c.path("text").asText(),
              longs(c.path("input_ids")),
              tokens,
              c.path("n_tokens_before_truncation").asInt(),
              c.path("truncated").asBoolean(),
              floats(c.path("embedding")),
              hidden);
      cases.put(kase.name(), kase);
    }
    root.path("similarity").path("queries").forEach(n -> queries.add(n.asText()));
    root.path("similarity").path("passages").forEach(n -> passages.add(n.asText()));
    root.path("batch").path("names").forEach(n -> batchNames.add(n.asText()));
    JsonNode be = root.path("batch").path("embeddings");
    batchEmbeddings = new float[be.size()][];
    for (int i = 0; i < be.size(); i++) {
      batchEmbeddings[i] = floats(be.get(i));
    }
  }

  static synchronized BgeGolden get() {
    if (instance == null) {
      try {
        instance = new BgeGolden(new ObjectMapper().readTree(Files.readAllBytes(DIR.resolve("golden.json"))));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return instance;
  }

  static Path goldenDir() {
    String dir = System.getProperty("zhiku.golden.dir");
    if (dir == null) {
      throw new IllegalStateException("system property zhiku.golden.dir is not set (surefire sets it)");
    }
    return Path.of(dir);
  }

  Case get(String name) {
    Case c = cases.get(name);
    if (c == null) {
      throw new IllegalArgumentException("no golden case " + name);
    }
    return c;
  }

  static double cosine(float[] a, float[] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }

  static double maxAbsDiff(float[] a, float[] b) {
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
    }
    return max;
  }

  private static float[] floats(JsonNode array) {
    float[] out = new float[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) array.get(i).asDouble();
    }
    return out;
  }

  private static long[] longs(JsonNode array) {
    long[] out = new long[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asLong();
    }
    return out;
  }
}
