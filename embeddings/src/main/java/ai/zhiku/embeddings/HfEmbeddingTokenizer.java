package ai.zhiku.embeddings;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * A {@code tokenizer.json} run by DJL's Hugging Face tokenizer (the Rust library, loaded from the
 * natives inside the DJL jar, so it works offline). Two native instances are kept: one that never
 * truncates (to count tokens and refuse over-long input) and one that truncates to the model's
 * limit (used only when the caller asked for truncation).
 */
final class HfEmbeddingTokenizer implements EmbeddingTokenizer {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HuggingFaceTokenizer full;
  private final HuggingFaceTokenizer truncating;
  private final int truncateTo;
  private final long[] prefix;
  private final long[] suffix;
  private final int vocabSize;
  private final Map<Long, String> idToToken;

  private HfEmbeddingTokenizer(String json, int maxTokens) throws IOException {
    DjlSetup.ensureOffline();
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    Map<String, String> noLimits = Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false");
    this.full = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes), noLimits);
    Map<String, String> limit =
        Map.of(
            "addSpecialTokens", "true",
            "truncation", "true",
            "padding", "false",
            "maxLength", Integer.toString(maxTokens),
            "modelMaxLength", Integer.toString(maxTokens));
    HuggingFaceTokenizer cut;
    try {
      cut = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes), limit);
    } catch (IOException | RuntimeException e) {
      full.close();
      throw e;
    }
    this.truncating = cut;
    this.truncateTo = maxTokens;

    Encoding probe = full.encode("a");
    long[] ids = probe.getIds();
    long[] special = probe.getSpecialTokenMask();
    int head = 0;
    while (head < ids.length && special[head] == 1) {
      head++;
    }
    int tail = ids.length;
    while (tail > head && special[tail - 1] == 1) {
      tail--;
    }
    this.prefix = Arrays.copyOfRange(ids, 0, head);
    this.suffix = Arrays.copyOfRange(ids, tail, ids.length);

    JsonNode root = JSON.readTree(json);
    this.idToToken = new HashMap<>();
    JsonNode vocab = root.path("model").path("vocab");
    if (vocab.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        idToToken.put(e.getValue().asLong(), e.getKey());
      }
    } else if (vocab.isArray()) {
      for (int i = 0; i < vocab.size(); i++) {
        idToToken.put((long) i, vocab.get(i).path(0).asText());
      }
    }
    for (JsonNode added : root.path("added_tokens")) {
      idToToken.put(added.path("id").asLong(), added.path("content").asText());
    }
    long max = idToToken.keySet().stream().mapToLong(Long::longValue).max().orElse(-1);
    this.vocabSize = (int) (max + 1);
  }

  /** Loads a tokenizer from the text of a {@code tokenizer.json}. */
  static HfEmbeddingTokenizer fromJson(String json, int maxTokens) {
    try {
      return new HfEmbeddingTokenizer(json, maxTokens);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot load tokenizer.json", e);
    }
  }

  @Override
  public long[] encode(String text) {
    return full.encode(text).getIds();
  }

  @Override
  public long[] encodeWithoutSpecials(String text) {
    return full.encode(text, false, false).getIds();
  }

  @Override
  public long[] encodeTruncated(String text, int maxTokens) {
    if (maxTokens != truncateTo) {
      throw new IllegalArgumentException("this tokenizer truncates to " + truncateTo + " tokens, not " + maxTokens);
    }
    return truncating.encode(text).getIds();
  }

  @Override
  public long[] wrap(int[] tokenIds) {
    long[] out = new long[prefix.length + tokenIds.length + suffix.length];
    System.arraycopy(prefix, 0, out, 0, prefix.length);
    for (int i = 0; i < tokenIds.length; i++) {
      out[prefix.length + i] = tokenIds[i];
    }
    System.arraycopy(suffix, 0, out, prefix.length + tokenIds.length, suffix.length);
    return out;
  }

  @Override
  public int specialTokenCount() {
    return prefix.length + suffix.length;
  }

  @Override
  public int vocabSize() {
    return vocabSize;
  }

  @Override
  public String[] tokens(long[] ids) {
    String[] out = new String[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = idToToken.getOrDefault(ids[i], "");
    }
    return out;
  }

  @Override
  public void close() {
    full.close();
    truncating.close();
  }
}
