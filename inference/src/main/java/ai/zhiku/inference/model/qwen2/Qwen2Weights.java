package ai.zhiku.inference.model.qwen2;

import ai.zhiku.inference.model.LayerWeights;
import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.model.ModelWeights;
import ai.zhiku.inference.model.WeightLoader;
import ai.zhiku.inference.model.WeightLoader.Rows;
import ai.zhiku.inference.model.layers.Matrix;
import java.util.ArrayList;
import java.util.List;

/**
 * Qwen2's tensor names mapped onto the shared layout: {@code q_proj}, {@code k_proj},
 * {@code v_proj} stacked into one [q heads | k heads | v heads] matrix with their biases
 * concatenated the same way (query head h uses key/value head h / group, the shared order);
 * {@code gate_proj} and {@code up_proj} stacked into [gate | up]. With tied embeddings there is no
 * {@code lm_head.weight}: the output head is the embedding matrix itself (one copy in memory).
 */
public final class Qwen2Weights {
  private Qwen2Weights() {}

  public static ModelWeights load(WeightLoader w, ModelConfig cfg, boolean tied) {
    List<LayerWeights> layers = new ArrayList<>();
    for (int l = 0; l < cfg.numLayers(); l++) {
      String p = "model.layers." + l + ".";
      String a = p + "self_attn.";
      layers.add(new LayerWeights(
          w.vector(p + "input_layernorm.weight"),
          w.matrix(List.of(Rows.all(a + "q_proj.weight"), Rows.all(a + "k_proj.weight"), Rows.all(a + "v_proj.weight"))),
          w.vector(List.of(Rows.all(a + "q_proj.bias"), Rows.all(a + "k_proj.bias"), Rows.all(a + "v_proj.bias"))),
          w.matrix(a + "o_proj.weight"),
          w.vector(p + "post_attention_layernorm.weight"),
          w.matrix(List.of(Rows.all(p + "mlp.gate_proj.weight"), Rows.all(p + "mlp.up_proj.weight"))),
          w.matrix(p + "mlp.down_proj.weight")));
    }
    Matrix embedding = w.table("model.embed_tokens.weight");
    return new ModelWeights(embedding, layers, w.vector("model.norm.weight"), tied ? embedding : w.matrix("lm_head.weight"));
  }
}
