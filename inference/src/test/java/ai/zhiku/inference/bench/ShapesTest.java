package ai.zhiku.inference.bench;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.model.DecoderModel;
import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.model.ModelFamilies;
import ai.zhiku.inference.model.Precision;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShapesTest {
  @Test
  void newFamiliesHaveTheirRealShapes() {
    assertThat(EngineBenchmark.shape("chatglm3-6b", 0)).isEqualTo(EngineBenchmark.shape("chatglm2-6b", 0));
    ModelConfig q15 = EngineBenchmark.shape("qwen2.5-1.5b", 0);
    assertThat(q15.numHeads() * q15.headDim()).isEqualTo(q15.hiddenSize());
    assertThat(q15.groupSize()).isEqualTo(6);
    ModelConfig q7 = EngineBenchmark.shape("qwen2.5-7b", 0);
    assertThat(q7.numHeads() * q7.headDim()).isEqualTo(q7.hiddenSize());
    assertThat(q7.groupSize()).isEqualTo(7);
    assertThat(q7.qkvBias()).isTrue();
  }

  @Test
  void aWrittenQwen2CheckpointLoadsBack(@TempDir Path dir) throws Exception {
    ModelConfig small = new ModelConfig("qwen2", 64, 1, 4, 2, 16, 96, 512, 128, 1e-6f, true,
        new ModelConfig.Rope.RotateHalf(1_000_000, "none", 1, 128));
    CheckpointWriter.write(dir, small);
    try (DecoderModel m = ModelFamilies.loadDecoder(dir, Engines.cpu(), Precision.FLOAT32)) {
      assertThat(m.config()).isEqualTo(small);
    }
  }
}
