package ai.zhiku.inference.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.inference.ChatEngineFactory;
import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.model.layers.RotaryEmbedding;
import ai.zhiku.inference.weights.CheckpointException;
import org.junit.jupiter.api.Test;

class ModelFamiliesTest {

  @Test
  void chatModelsAreRecognisedFromConfigJson() {
    assertThat(ChatEngineFactory.isChatModel(Goldens.dir("chatglm2-tiny"))).isTrue();
    assertThat(ChatEngineFactory.isChatModel(Goldens.dir("internlm2-tiny"))).isTrue();
    assertThat(ChatEngineFactory.isChatModel(Goldens.dir("bge-small-zh-hf"))).isFalse();
    assertThat(ChatEngineFactory.isChatModel(Goldens.dir("no-such-model"))).isFalse();
  }

  @Test
  void chatGlm3IsToldApartFromChatGlm2ByItsTokenizerFiles() throws Exception {
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    assertThat(ModelFamilies.family("ChatGLMModel", Goldens.dir("chatglm3-tiny"))).isEqualTo("chatglm3");
    assertThat(ModelFamilies.family("ChatGLMModel", Goldens.dir("chatglm2-tiny"))).isEqualTo("chatglm2");
    // the shipped tokenizer code decides, whatever the directory is called
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("chatglm2-named");
    try {
      java.nio.file.Files.writeString(dir.resolve("tokenization_chatglm.py"),
          "role_special_tokens = [\"<|system|>\", \"<|user|>\", \"<|assistant|>\", \"<|observation|>\"]");
      assertThat(ai.zhiku.inference.model.chatglm3.ChatGlm3Model.isChatGlm3(dir, json)).isTrue();
      java.nio.file.Files.writeString(dir.resolve("tokenization_chatglm.py"), "class SPTokenizer: pass");
      java.nio.file.Files.writeString(dir.resolve("tokenizer_config.json"), "{\"name_or_path\": \"THUDM/chatglm3-6b\"}");
      assertThat(ai.zhiku.inference.model.chatglm3.ChatGlm3Model.isChatGlm3(dir, json)).isFalse();
    } finally {
      try (var files = java.nio.file.Files.list(dir)) {
        for (var f : files.toList()) java.nio.file.Files.delete(f);
      }
      java.nio.file.Files.delete(dir);
    }
  }

  @Test
  void chatGlm3StopsAtEosUserAndObservation() {
    try (ChatModel m = ModelFamilies.load(Goldens.dir("chatglm3-tiny"), Engines.cpu(), Precision.FLOAT32)) {
      assertThat(m.family()).isEqualTo("chatglm3");
      assertThat(m.template().name()).isEqualTo("chatglm3");
      assertThat(m.stopIds()).containsExactly(DecoderGoldenTest.ints(
          Goldens.json("chatglm3-tiny", "golden.json").get("eos_token_ids")));
    }
  }

  @Test
  void qwen2LoadsWithTiedHeadItsOwnTemplateAndGenerationConfigStops() {
    assertThat(ChatEngineFactory.isChatModel(Goldens.dir("qwen2-tiny"))).isTrue();
    try (ChatModel m = ModelFamilies.load(Goldens.dir("qwen2-tiny"), Engines.cpu(), Precision.FLOAT32)) {
      assertThat(m.family()).isEqualTo("qwen2");
      assertThat(m.template().name()).isEqualTo("qwen2");
      assertThat(m.stopIds()).containsExactly(151645, 151643);
      ModelConfig c = m.model().config();
      assertThat(c.qkvBias()).isTrue();
      assertThat(c.numKvHeads()).isEqualTo(2);
      assertThat(c.rope()).isEqualTo(new ModelConfig.Rope.RotateHalf(1000000.0, "none", 1, 32768));
      assertThat(c.normEps()).isEqualTo(1e-6f);
    }
  }

  static ai.zhiku.inference.model.qwen2.Qwen2Config qwen2(String extra) throws Exception {
    return new com.fasterxml.jackson.databind.ObjectMapper().readValue("""
        {"hidden_size": 1536, "num_hidden_layers": 28, "num_attention_heads": 12, "num_key_value_heads": 2,
         "intermediate_size": 8960, "vocab_size": 151936, "max_position_embeddings": 32768, "rms_norm_eps": 1e-06,
         "rope_theta": 1000000.0, "hidden_act": "silu", %s}""".formatted(extra), ai.zhiku.inference.model.qwen2.Qwen2Config.class);
  }

  @Test
  void qwen2SlidingWindowIsRefusedOnlyWhereItWouldApply() throws Exception {
    // Qwen2.5 as shipped: the window is off (and as wide as the context)
    assertThat(qwen2("\"use_sliding_window\": false, \"sliding_window\": 32768, \"max_window_layers\": 21, "
        + "\"tie_word_embeddings\": true").toModelConfig().contextLength()).isEqualTo(32768);
    // on, but no narrower than the context: nothing to do
    assertThat(qwen2("\"use_sliding_window\": true, \"sliding_window\": 32768, \"max_window_layers\": 21")
        .toModelConfig().numLayers()).isEqualTo(28);
    // on, but from a layer the model does not have
    assertThat(qwen2("\"use_sliding_window\": true, \"sliding_window\": 4096, \"max_window_layers\": 28")
        .toModelConfig().numLayers()).isEqualTo(28);
    assertThatThrownBy(() -> qwen2("\"use_sliding_window\": true, \"sliding_window\": 4096, \"max_window_layers\": 21")
        .toModelConfig()).isInstanceOf(CheckpointException.class).hasMessageContaining("sliding_window 4096");
    assertThat(qwen2("\"tie_word_embeddings\": false").tied()).isFalse();
    assertThat(qwen2("\"eos_token_id\": 151645").tied()).isFalse(); // transformers' default
    assertThatThrownBy(() -> qwen2("\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0, "
        + "\"original_max_position_embeddings\": 32768}").toModelConfig())
        .isInstanceOf(CheckpointException.class).hasMessageContaining("yarn");
  }

  @Test
  void unsupportedArchitectureIsRefusedNamingIt() {
    assertThatThrownBy(() -> ModelFamilies.load(Goldens.dir("bge-small-zh-hf"), Engines.cpu(), Precision.FLOAT32))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("config.json")
        .hasMessageContaining("BertModel");
  }

  @Test
  void dtypeFlagResolves() {
    Precision auto = ModelFamilies.cpuHasBf16() ? Precision.BFLOAT16 : Precision.FLOAT32;
    assertThat(ModelFamilies.precision("auto", Device.cpu())).isEqualTo(auto);
    assertThat(ModelFamilies.precision(null, Device.cpu())).isEqualTo(auto);
    assertThat(ModelFamilies.precision("float16", Device.cpu())).isEqualTo(Precision.FLOAT16);
    assertThat(ModelFamilies.precision("bfloat16", Device.cpu())).isEqualTo(Precision.BFLOAT16);
    assertThat(ModelFamilies.precision("auto", Device.gpu(0))).isEqualTo(Precision.FLOAT16);
    assertThatThrownBy(() -> ModelFamilies.precision("int4", Device.cpu()))
        .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.param()).isEqualTo("dtype"));
    assertThatThrownBy(() -> ModelFamilies.precision("bfloat16", Device.gpu(0)))
        .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.getMessage()).contains("float16"));
  }

  @Test
  void ropeScalingFollowsInternLm2() {
    int hd = 8;
    double base = 10000;
    try (NDManager m = NDManager.newBaseManager(Engines.cpu(), Engines.PYTORCH)) {
      // linear: positions divided by the factor
      NDList lin = new RotaryEmbedding(new ModelConfig.Rope.RotateHalf(base, "linear", 4, 100), hd)
          .tables(m, new int[] {8}, 9, DataType.FLOAT32);
      NDList plain = new RotaryEmbedding(new ModelConfig.Rope.RotateHalf(base, "none", 1, 100), hd)
          .tables(m, new int[] {2}, 3, DataType.FLOAT32);
      assertThat(lin.get(0).toFloatArray()).isEqualTo(plain.get(0).toFloatArray());
      // dynamic: unchanged up to max positions, NTK-scaled base beyond
      RotaryEmbedding dyn = new RotaryEmbedding(new ModelConfig.Rope.RotateHalf(base, "dynamic", 2, 100), hd);
      RotaryEmbedding none = new RotaryEmbedding(new ModelConfig.Rope.RotateHalf(base, "none", 1, 100), hd);
      assertThat(dyn.tables(m, new int[] {50}, 100, DataType.FLOAT32).get(1).toFloatArray())
          .isEqualTo(none.tables(m, new int[] {50}, 100, DataType.FLOAT32).get(1).toFloatArray());
      float[] scaled = dyn.tables(m, new int[] {150}, 200, DataType.FLOAT32).get(0).toFloatArray();
      double newBase = base * Math.pow(2.0 * 200 / 100 - 1, hd / (hd - 2.0));
      double invFreq1 = 1 / Math.pow(newBase, 2.0 / hd);
      assertThat((double) scaled[1]).isCloseTo(Math.cos(150 * invFreq1), org.assertj.core.data.Offset.offset(1e-4));
      assertThat(scaled[1]).isEqualTo(scaled[1 + hd / 2]);
    }
  }

  @Test
  void devicesAreParsedAndCheckedAgainstTheEngine() {
    assertThat(Engines.device("cpu")).isEqualTo(Device.cpu());
    assertThatThrownBy(() -> Engines.device("tpu"))
        .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.param()).isEqualTo("device"));
    if (Engines.pytorch().getGpuCount() == 0) {
      assertThatThrownBy(() -> Engines.device("cuda:0"))
          .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.getMessage()).contains("not available"));
    }
  }
}
