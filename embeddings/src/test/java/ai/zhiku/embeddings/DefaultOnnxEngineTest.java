package ai.zhiku.embeddings;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.engine.EmbedItem;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The bundled bge-small-zh-v1.5 ONNX graph on ONNX Runtime, against the golden file. */
class DefaultOnnxEngineTest extends BgeEngineContract {

  @Override
  BatchingEmbeddingEngine open() {
    return (BatchingEmbeddingEngine) EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults());
  }

  @Test
  void defaultModelIsNamedAndFound() {
    assertThat(EmbeddingEngineFactory.modelName(EmbeddingEngineConfig.defaults())).isEqualTo("bge-small-zh-v1.5");
    assertThat(engine.modelName()).isEqualTo(EmbeddingEngineFactory.DEFAULT_MODEL_NAME);
  }

  @Test
  void withoutCudaProviderAGpuRequestRunsOnTheCpuAndAClosedEngineRefusesWork() {
    BatchingEmbeddingEngine other =
        (BatchingEmbeddingEngine)
            EmbeddingEngineFactory.open(
                new EmbeddingEngineConfig(null, "cuda", 4, 0, null));
    BgeGolden.Case c = golden.get("zh_ml");
    float[] v = result(other.embed(List.of(EmbedItem.text(c.text())), false, false)).vectors().get(0);
    assertThat(BgeGolden.cosine(v, c.embedding())).isGreaterThanOrEqualTo(COSINE_MIN);
    other.close();
    assertThat(failure(other.embed(List.of(EmbedItem.text("x")), false, false)).kind())
        .isEqualTo(ai.zhiku.common.ErrorKind.UNAVAILABLE);
  }

  @Test
  void recognisesEmbeddingModelDirectories() {
    assertThat(EmbeddingEngineFactory.isEmbeddingModel(BgeGolden.DIR)).isTrue();
    assertThat(EmbeddingEngineFactory.isEmbeddingModel(BgeGolden.goldenDir().resolve("chatglm2-tiny"))).isFalse();
    assertThat(EmbeddingEngineFactory.isEmbeddingModel(BgeGolden.goldenDir().resolve("internlm2-tiny"))).isFalse();
    assertThat(EmbeddingEngineFactory.isEmbeddingModel(Path.of("does-not-exist"))).isFalse();
  }
}
