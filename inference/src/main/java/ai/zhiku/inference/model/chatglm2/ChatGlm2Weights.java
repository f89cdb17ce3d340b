package ai.zhiku.inference.model.chatglm2;

import ai.zhiku.inference.model.LayerWeights;
import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.model.ModelWeights;
import ai.zhiku.inference.model.WeightLoader;
import java.util.ArrayList;
import java.util.List;

/**
 * ChatGLM2's tensor names mapped onto the shared layout. Its layout already is the shared one:
 * {@code query_key_value} rows are [query heads | key heads | value heads] and
 * {@code dense_h_to_4h} rows are [gate | up].
 */
public final class ChatGlm2Weights {
  private ChatGlm2Weights() {}

  public static ModelWeights load(WeightLoader w, ModelConfig cfg) {
    List<LayerWeights> layers = new ArrayList<>();
    for (int l = 0; l < cfg.numLayers(); l++) {
      String p = "transformer.encoder.layers." + l + ".";
      layers.add(new LayerWeights(
          w.vector(p + "input_layernorm.weight"),
          w.matrix(p + "self_attention.query_key_value.weight"),
          cfg.qkvBias() ? w.vector(p + "self_attention.query_key_value.bias") : null,
          w.matrix(p + "self_attention.dense.weight"),
          w.vector(p + "post_attention_layernorm.weight"),
          w.matrix(p + "mlp.dense_h_to_4h.weight"),
          w.matrix(p + "mlp.dense_4h_to_h.weight")));
    }
    return new ModelWeights(
        w.table("transformer.embedding.word_embeddings.weight"),
        layers,
        w.vector("transformer.encoder.final_layernorm.weight"),
        w.matrix("transformer.output_layer.weight"));
  }
}
