package ai.zhiku.inference.model.chatglm2;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.zhiku.inference.model.LayerWeights;
import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.model.ModelWeights;
import ai.zhiku.inference.weights.WeightsIndex;
import java.util.ArrayList;
import java.util.List;

/**
 * ChatGLM2's tensor names mapped onto the shared layout. Its layout already is the shared one:
 * {@code query_key_value} rows are [query heads | key heads | value heads] and
 * {@code dense_h_to_4h} rows are [gate | up].
 */
public final class ChatGlm2Weights {
  private ChatGlm2Weights() {}

  public static ModelWeights load(WeightsIndex index, ModelConfig cfg, NDManager m, DataType dtype) {
    List<LayerWeights> layers = new ArrayList<>();
    for (int l = 0; l < cfg.numLayers(); l++) {
      String p = "transformer.encoder.layers." + l + ".";
      layers.add(new LayerWeights(
          index.toNDArray(p + "input_layernorm.weight", m, dtype),
          index.toNDArray(p + "self_attention.query_key_value.weight", m, dtype),
          cfg.qkvBias() ? index.toNDArray(p + "self_attention.query_key_value.bias", m, dtype) : null,
          index.toNDArray(p + "self_attention.dense.weight", m, dtype),
          index.toNDArray(p + "post_attention_layernorm.weight", m, dtype),
          index.toNDArray(p + "mlp.dense_h_to_4h.weight", m, dtype),
          index.toNDArray(p + "mlp.dense_4h_to_h.weight", m, dtype)));
    }
    return new ModelWeights(
        index.toNDArray("transformer.embedding.word_embeddings.weight", m, dtype),
        layers,
        index.toNDArray("transformer.encoder.final_layernorm.weight", m, dtype),
        index.toNDArray("transformer.output_layer.weight", m, dtype));
  }
}
