package ai.zhiku.embeddings;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The Hugging Face checkpoint of bge-small-zh-v1.5 (float16 safetensors, modules.json, CLS
 * pooling) on DJL PyTorch, against the same golden file as the bundled ONNX model.
 */
class BertCheckpointEngineTest extends BgeEngineContract {

  @Override
  BatchingEmbeddingEngine open() {
    return (BatchingEmbeddingEngine)
        EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults().withModelPath(BgeGolden.DIR));
  }

  @Test
  void readsPoolingAndLimitsFromTheDirectory() throws Exception {
    SentencePooling pooling = SentencePooling.read(BgeGolden.DIR);
    assertThat(pooling.mode()).isEqualTo(SentencePooling.Mode.CLS);
    assertThat(pooling.normalize()).isTrue();
    assertThat(EmbeddingEngineFactory.maxTokens(BgeGolden.DIR, pooling)).isEqualTo(512);
    assertThat(EmbeddingEngineFactory.modelName(EmbeddingEngineConfig.defaults().withModelPath(BgeGolden.DIR)))
        .isEqualTo("bge-small-zh-hf");
  }

  @Test
  void meanPoolingAveragesTheAttendedTokensOnly() {
    // mean pooling over a padded batch must ignore the padding: the short row alone and in a
    // batch with a long row give the same vector
    SentencePooling mean = new SentencePooling(SentencePooling.Mode.MEAN, false, 512);
    long[] shortIds = golden.get("zh_greeting").inputIds();
    long[] longIds = golden.get("p1").inputIds();
    float[] alone = engineEncoder().encode(new long[][] {shortIds}, mean)[0];
    float[] padded = engineEncoder().encode(new long[][] {longIds, shortIds}, mean)[1];
    assertThat(BgeGolden.maxAbsDiff(alone, padded)).isLessThan(1e-4);
    float[] hidden = engine.lastHiddenState(shortIds);
    float[] expected = new float[512];
    for (int t = 0; t < shortIds.length; t++) {
      for (int d = 0; d < 512; d++) {
        expected[d] += hidden[t * 512 + d] / shortIds.length;
      }
    }
    assertThat(BgeGolden.maxAbsDiff(alone, expected)).isLessThan(1e-4);
  }

  private Encoder engineEncoder() {
    try {
      var f = BatchingEmbeddingEngine.class.getDeclaredField("encoder");
      f.setAccessible(true);
      return (Encoder) f.get(engine);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void sameVectorsAsTheBundledOnnxModel() {
    try (BatchingEmbeddingEngine onnx =
        (BatchingEmbeddingEngine) EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults())) {
      List<String> texts = List.of("向量数据库", "如何申请护照？", "Zhiku serves embeddings 🙂");
      List<float[]> a = embed(texts, false, false);
      List<float[]> b = BgeEngineContract.result(
          onnx.embed(texts.stream().map(ai.zhiku.common.engine.EmbedItem::text).toList(), false, false)).vectors();
      for (int i = 0; i < texts.size(); i++) {
        assertThat(BgeGolden.cosine(a.get(i), b.get(i))).isGreaterThanOrEqualTo(0.99999);
      }
    }
  }
}
