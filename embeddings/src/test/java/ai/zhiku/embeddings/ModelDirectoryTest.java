package ai.zhiku.embeddings;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.common.engine.EmbedItem;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Model directories other than the golden checkpoint: ONNX exports, vocab.txt-only, bad ones. */
class ModelDirectoryTest {

  private final BgeGolden golden = BgeGolden.get();

  /** Copies a golden file or folder (one level) into {@code dir}; the golden tree is read-only. */
  private static void copy(String name, Path dir) throws java.io.IOException {
    Path from = BgeGolden.DIR.resolve(name);
    if (Files.isDirectory(from)) {
      Files.createDirectories(dir.resolve(name));
      try (var files = Files.list(from)) {
        for (Path f : files.toList()) {
          Files.copy(f, dir.resolve(name).resolve(f.getFileName().toString()));
        }
      }
    } else {
      Files.copy(from, dir.resolve(name));
    }
  }

  @Test
  void onnxExportDirectoryWithMeanPoolingAndNoNormalize(@TempDir Path dir) throws Exception {
    try (InputStream graph = getClass().getClassLoader().getResourceAsStream(EmbeddingEngineFactory.DEFAULT_ONNX_RESOURCE)) {
      Files.copy(graph, dir.resolve("model.onnx"));
    }
    copy("tokenizer.json", dir);
    Files.writeString(
        dir.resolve("modules.json"),
        """
        [{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
         {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]""");
    Files.createDirectories(dir.resolve("1_Pooling"));
    Files.writeString(
        dir.resolve("1_Pooling/config.json"),
        """
        {"word_embedding_dimension":512,"pooling_mode_cls_token":false,"pooling_mode_mean_tokens":true}""");
    Files.writeString(dir.resolve("sentence_bert_config.json"), "{\"max_seq_length\": 128}");
    assertThat(EmbeddingEngineFactory.isEmbeddingModel(dir)).isTrue();

    try (BatchingEmbeddingEngine engine =
        (BatchingEmbeddingEngine) EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults().withModelPath(dir))) {
      assertThat(engine.info().maxTokens()).isEqualTo(128);
      assertThat(engine.info().queryInstruction()).isEmpty();
      BgeGolden.Case c = golden.get("zh_weather");
      float[] vector =
          engine.embed(List.of(EmbedItem.text(c.text()), EmbedItem.text("短")), false, false).get().vectors().get(0);
      float[] hidden = engine.lastHiddenState(c.inputIds());
      int n = c.inputIds().length;
      float[] mean = new float[512];
      for (int t = 0; t < n; t++) {
        for (int d = 0; d < 512; d++) {
          mean[d] += hidden[t * 512 + d] / n;
        }
      }
      assertThat(BgeGolden.maxAbsDiff(vector, mean)).isLessThan(1e-4);
      double norm = 0;
      for (float v : vector) {
        norm += v * v;
      }
      assertThat(Math.sqrt(norm)).as("not normalised").isGreaterThan(1.5);
      // the 128-token limit from sentence_bert_config.json applies
      assertThat(engine.embed(List.of(EmbedItem.text(golden.get("long_zh_400").text())), false, false))
          .failsWithin(java.time.Duration.ofSeconds(30))
          .withThrowableThat()
          .withMessageContaining("maximum context length is 128 tokens");
    }
  }

  @Test
  void checkpointWithVocabTxtButNoTokenizerJson(@TempDir Path dir) throws Exception {
    for (String f :
        List.of("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
            "modules.json", "1_Pooling", "sentence_bert_config.json")) {
      copy(f, dir);
    }
    try (BatchingEmbeddingEngine engine =
        (BatchingEmbeddingEngine) EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults().withModelPath(dir))) {
      assertThat(engine.tokenizer()).isInstanceOf(WordPieceTokenizer.class);
      for (String name : List.of("mix_special_literal", "en_cased", "long_zh_800")) {
        BgeGolden.Case c = golden.get(name);
        float[] v = engine.embed(List.of(EmbedItem.text(c.text())), false, true).get().vectors().get(0);
        assertThat(BgeGolden.cosine(v, c.embedding())).as(name).isGreaterThanOrEqualTo(BgeEngineContract.COSINE_MIN);
      }
    }
  }

  @Test
  void unsupportedDirectoriesAreRefusedAtOpen(@TempDir Path dir) throws Exception {
    assertThatThrownBy(() -> EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults().withModelPath(dir.resolve("missing"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("does not exist");
    Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"chatglm\"}");
    copy("tokenizer.json", dir);
    assertThat(EmbeddingEngineFactory.isEmbeddingModel(dir)).isFalse();
    assertThatThrownBy(() -> EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults().withModelPath(dir)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("model_type 'chatglm'");
    assertThatThrownBy(() -> EmbeddingEngineFactory.device("tpu")).hasMessageContaining("unknown device");
    assertThat(EmbeddingEngineFactory.device("cuda:1").getDeviceId()).isEqualTo(1);
  }
}
