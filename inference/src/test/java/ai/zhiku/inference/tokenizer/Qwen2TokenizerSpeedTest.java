package ai.zhiku.inference.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.zhiku.inference.Goldens;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our byte-level BPE against DJL's binding of Hugging Face tokenizers (Rust) on Qwen2's files.
 * DJL loads vocab.json + merges.txt only as a bare BPE (no NFC, no split regex, no byte-level
 * mapping): its ids differ. Given a tokenizer.json with Qwen2's pipeline assembled from the same
 * files it agrees with us; the test then times both on a few KB of mixed Chinese/English text and
 * prints the figures (README, tokenizer section).
 */
class Qwen2TokenizerSpeedTest {
  private static final String TEXT = """
      知库是一个兼容 OpenAI 接口的模型服务，用 Java 编写。It serves ChatGLM3, InternLM2.5 and Qwen2.5 \
      with paged KV caching, continuous batching and tool calls. 2024年12月，我们在 2 个 CPU 核心上测试了 \
      1,234,567 个 token 的吞吐量：每秒 13.6 个 token。def hello(name: str) -> None:\n    print(f"你好, {name}!")\n\n\
      The quick brown fox jumps over the lazy dog; 敏捷的棕色狐狸跳过了懒狗。  Emoji 🎉🚀 and café, naïve, Ünïcödé.\n""";

  static Path tokenizerJson(Path dir) throws Exception {
    ObjectMapper json = new ObjectMapper();
    Path g = Goldens.dir("qwen2-tiny");
    ObjectNode root = json.createObjectNode();
    root.put("version", "1.0");
    ArrayNode added = root.putArray("added_tokens");
    json.readTree(g.resolve("tokenizer_config.json").toFile()).path("added_tokens_decoder").fields().forEachRemaining(e -> {
      ObjectNode a = added.addObject();
      a.put("id", Integer.parseInt(e.getKey()));
      a.put("content", e.getValue().get("content").asText());
      a.put("single_word", false).put("lstrip", false).put("rstrip", false).put("normalized", false);
      a.put("special", e.getValue().get("special").asBoolean());
    });
    root.putObject("normalizer").put("type", "NFC");
    ObjectNode pre = root.putObject("pre_tokenizer");
    pre.put("type", "Sequence");
    ArrayNode pres = pre.putArray("pretokenizers");
    ObjectNode split = pres.addObject();
    split.put("type", "Split");
    split.putObject("pattern").put("Regex", Qwen2Tokenizer.PRE_TOKENIZER.pattern());
    split.put("behavior", "Isolated").put("invert", false);
    pres.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", false).put("use_regex", false);
    root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", false).put("use_regex", false);
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.putNull("unk_token");
    model.put("continuing_subword_prefix", "").put("end_of_word_suffix", "").put("fuse_unk", false).put("byte_fallback", false);
    model.set("vocab", json.readTree(g.resolve("vocab.json").toFile()));
    ArrayNode merges = model.putArray("merges");
    for (String line : Files.readAllLines(g.resolve("merges.txt"))) if (!line.isEmpty() && !line.startsWith("#version")) merges.add(line);
    Path out = dir.resolve("tokenizer.json");
    json.writeValue(out.toFile(), root);
    return out;
  }

  @Test
  void ourBpeAgreesWithHuggingFaceAndTheirSpeedsArePrinted(@TempDir Path tmp) throws Exception {
    Path g = Goldens.dir("qwen2-tiny");
    Map<String, String> opts = Map.of("addSpecialTokens", "false");
    String sample = "  leading 你好，世界 1234";
    Qwen2Tokenizer ours = Qwen2Tokenizer.load(g, 151936);
    try (HuggingFaceTokenizer bare = HuggingFaceTokenizer.newInstance(g.resolve("vocab.json"), g.resolve("merges.txt"), opts)) {
      assertThat(toInts(bare.encode(sample).getIds())).isNotEqualTo(ours.encode(sample, false));
    }
    Path tj = tokenizerJson(tmp);
    try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(tj, opts)) {
      for (JsonNode c : Goldens.json("qwen2-tiny", "tokenizer_golden.json").get("cases")) {
        String t = c.get("text").asText();
        assertThat(toInts(hf.encode(t).getIds())).as(t).isEqualTo(ours.encode(t, false));
      }
      // the same tokenizer.json read by our loader
      Files.copy(g.resolve("tokenizer_config.json"), tmp.resolve("tokenizer_config.json"));
      Qwen2Tokenizer fromJson = Qwen2Tokenizer.load(tmp, 151936);
      assertThat(fromJson.encode(TEXT, false)).isEqualTo(ours.encode(TEXT, false));

      String text = TEXT.repeat(8); // about 5 KB
      int bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
      Qwen2Tokenizer cold = Qwen2Tokenizer.load(g, 151936);
      long t0 = System.nanoTime();
      int n = cold.encode(text, false).length;
      long coldOurs = System.nanoTime() - t0;
      int rounds = 200;
      long ourNs = time(rounds, () -> ours.encode(text, false));
      long hfNs = time(rounds, () -> hf.encode(text));
      System.out.printf("qwen2 tokenizer on %d bytes (%d tokens): ours %.3f ms/encode (first call of a fresh instance %.2f ms), "
          + "HF tokenizers via DJL %.3f ms/encode%n", bytes, n, ourNs / 1e6 / rounds, coldOurs / 1e6, hfNs / 1e6 / rounds);
    }
  }

  private static long time(int rounds, Runnable r) {
    for (int i = 0; i < 50; i++) r.run();
    long t0 = System.nanoTime();
    for (int i = 0; i < rounds; i++) r.run();
    return System.nanoTime() - t0;
  }

  private static int[] toInts(long[] ids) {
    int[] r = new int[ids.length];
    for (int i = 0; i < r.length; i++) r[i] = (int) ids[i];
    return r;
  }
}
