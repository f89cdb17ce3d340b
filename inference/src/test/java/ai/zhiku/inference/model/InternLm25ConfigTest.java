package ai.zhiku.inference.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.inference.model.internlm2.InternLm2Config;
import ai.zhiku.inference.model.layers.RotaryEmbedding;
import ai.zhiku.inference.weights.CheckpointException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * InternLM2.5's config.json values through the InternLM2 reader. The files are written here with the
 * fields of internlm2_5-7b-chat and internlm2_5-7b-chat-1m as their model cards describe them (the
 * hub is not reachable from this machine): dynamic NTK rope scaling, factor 2.0 / 2.5, rope_theta
 * 1e6 / 5e7, max_position_embeddings 32768 / 262144.
 */
class InternLm25ConfigTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  static ModelConfig read(Path dir, String name, String ropeScaling, double theta, int maxPositions) throws Exception {
    Path f = dir.resolve(name + ".json");
    Files.writeString(f, """
        {"architectures": ["InternLM2ForCausalLM"], "model_type": "internlm2", "hidden_size": 4096,
         "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
         "vocab_size": 92544, "max_position_embeddings": %d, "rms_norm_eps": 1e-05, "rope_theta": %s,
         "rope_scaling": %s, "bias": false, "hidden_act": "silu", "torch_dtype": "bfloat16",
         "attn_implementation": "eager", "pretraining_tp": 1, "tie_word_embeddings": false}
        """.formatted(maxPositions, theta, ropeScaling));
    return JSON.readValue(f.toFile(), InternLm2Config.class).toModelConfig();
  }

  @Test
  void chatAndMillionTokenVariantsReadTheirRopeScaling(@TempDir Path dir) throws Exception {
    ModelConfig chat = read(dir, "internlm2_5-7b-chat", "{\"type\": \"dynamic\", \"factor\": 2.0}", 1000000.0, 32768);
    assertThat(chat.rope()).isEqualTo(new ModelConfig.Rope.RotateHalf(1000000.0, "dynamic", 2.0, 32768));
    assertThat(chat.contextLength()).isEqualTo(65536);
    assertThat(chat.numKvHeads()).isEqualTo(8);
    assertThat(chat.headDim()).isEqualTo(128);
    ModelConfig m1 = read(dir, "internlm2_5-7b-chat-1m", "{\"type\": \"dynamic\", \"factor\": 2.5}", 50000000.0, 262144);
    assertThat(m1.rope()).isEqualTo(new ModelConfig.Rope.RotateHalf(50000000.0, "dynamic", 2.5, 262144));
    assertThat(m1.contextLength()).isEqualTo(655360);
    ModelConfig lin = read(dir, "linear", "{\"type\": \"linear\", \"factor\": 4.0}", 10000.0, 4096);
    assertThat(lin.rope()).isEqualTo(new ModelConfig.Rope.RotateHalf(10000.0, "linear", 4.0, 4096));
    assertThat(lin.contextLength()).isEqualTo(4096);
    assertThat(read(dir, "none", "null", 1000000.0, 32768).contextLength()).isEqualTo(32768);
    // newer transformers write rope_type instead of type
    assertThat(read(dir, "rope_type", "{\"rope_type\": \"dynamic\", \"factor\": 2.0}", 1000000.0, 32768).rope())
        .isEqualTo(new ModelConfig.Rope.RotateHalf(1000000.0, "dynamic", 2.0, 32768));
    assertThatThrownBy(() -> read(dir, "yarn", "{\"type\": \"yarn\", \"factor\": 4.0}", 1000000.0, 32768))
        .isInstanceOf(CheckpointException.class).hasMessageContaining("yarn");
  }

  @Test
  void dynamicNtkRaisesTheBaseAsTheOfficialCodeDoesPastMaxPositions() {
    int hd = 128;
    int max = 32768;
    double factor = 2.0;
    double theta = 1000000.0;
    RotaryEmbedding rope = new RotaryEmbedding(new ModelConfig.Rope.RotateHalf(theta, "dynamic", factor, max), hd);
    // within max_position_embeddings: the plain table
    float[] within = rope.arrays(new int[] {1000}, max).cos();
    float[] plain = new RotaryEmbedding(new ModelConfig.Rope.RotateHalf(theta, "none", 1, max), hd).arrays(new int[] {1000}, max).cos();
    assertThat(within).isEqualTo(plain);
    // past it: InternLM2DynamicNTKScalingRotaryEmbedding's base for seq_len = the cached length
    int seqLen = 50000;
    double base = theta * Math.pow(factor * seqLen / max - (factor - 1), (double) hd / (hd - 2));
    int pos = 49999;
    RotaryEmbedding.Tables t = rope.arrays(new int[] {pos}, seqLen);
    for (int k = 0; k < hd / 2; k += 7) {
      float inv = (float) (1.0 / Math.pow(base, 2.0 * k / hd));
      float angle = pos * inv;
      assertThat(t.cos()[k]).isCloseTo((float) Math.cos(angle), org.assertj.core.data.Offset.offset(1e-6f));
      assertThat(t.cos()[k + hd / 2]).isEqualTo(t.cos()[k]);
    }
  }
}
