package ai.zhiku.inference.model.internlm2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.zhiku.inference.model.LayerWeights;
import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.model.ModelWeights;
import ai.zhiku.inference.weights.WeightsIndex;
import java.util.ArrayList;
import java.util.List;

/**
 * InternLM2's tensor names mapped onto the shared layout. Its packed {@code wqkv} rows are
 * grouped per key/value head ([g query heads, 1 key head, 1 value head] per group, head_dim rows
 * each); they are regrouped into [all query heads | all key heads | all value heads]. The
 * feed-forward {@code w1} (gate) and {@code w3} (up) are stacked into one [gate | up] matrix.
 */
public final class InternLm2Weights {
  private InternLm2Weights() {}

  public static ModelWeights load(WeightsIndex index, ModelConfig cfg, NDManager m, DataType dtype) {
    List<LayerWeights> layers = new ArrayList<>();
    for (int l = 0; l < cfg.numLayers(); l++) {
      String p = "model.layers." + l + ".";
      NDArray qkv;
      NDArray qkvBias = null;
      NDArray gateUp;
      try (NDManager tmp = m.newSubManager()) {
        qkv = regroup(index.toNDArray(p + "attention.wqkv.weight", tmp, dtype), cfg);
        qkv.attach(m);
        if (cfg.qkvBias()) {
          qkvBias = regroup(index.toNDArray(p + "attention.wqkv.bias", tmp, dtype).expandDims(1), cfg).squeeze(1);
          qkvBias.attach(m);
        }
        gateUp = index.toNDArray(p + "feed_forward.w1.weight", tmp, dtype)
            .concat(index.toNDArray(p + "feed_forward.w3.weight", tmp, dtype), 0);
        gateUp.attach(m);
      }
      layers.add(new LayerWeights(
          index.toNDArray(p + "attention_norm.weight", m, dtype),
          qkv,
          qkvBias,
          index.toNDArray(p + "attention.wo.weight", m, dtype),
          index.toNDArray(p + "ffn_norm.weight", m, dtype),
          gateUp,
          index.toNDArray(p + "feed_forward.w2.weight", m, dtype)));
    }
    return new ModelWeights(
        index.toNDArray("model.tok_embeddings.weight", m, dtype),
        layers,
        index.toNDArray("model.norm.weight", m, dtype),
        index.toNDArray("output.weight", m, dtype));
  }

  /** [kvHeads * (g + 2) * hd, in] grouped rows to [q heads | k heads | v heads] rows. */
  private static NDArray regroup(NDArray wqkv, ModelConfig cfg) {
    int kv = cfg.numKvHeads();
    int g = cfg.groupSize();
    int hd = cfg.headDim();
    long in = wqkv.getShape().get(1);
    NDArray grouped = wqkv.reshape(kv, g + 2, hd, in);
    NDArray q = grouped.get(":, :{}", g).reshape((long) kv * g * hd, in);
    NDArray k = grouped.get(":, {}", g).reshape((long) kv * hd, in);
    NDArray v = grouped.get(":, {}", g + 1).reshape((long) kv * hd, in);
    return q.concat(k, 0).concat(v, 0);
  }
}
