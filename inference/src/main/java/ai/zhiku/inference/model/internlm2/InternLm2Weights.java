package ai.zhiku.inference.model.internlm2;

import ai.zhiku.inference.model.LayerWeights;
import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.model.ModelWeights;
import ai.zhiku.inference.model.WeightLoader;
import ai.zhiku.inference.model.WeightLoader.Rows;
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

  public static ModelWeights load(WeightLoader w, ModelConfig cfg) {
    List<LayerWeights> layers = new ArrayList<>();
    for (int l = 0; l < cfg.numLayers(); l++) {
      String p = "model.layers." + l + ".";
      layers.add(new LayerWeights(
          w.vector(p + "attention_norm.weight"),
          w.matrix(regrouped(p + "attention.wqkv.weight", cfg)),
          cfg.qkvBias() ? w.vector(regrouped(p + "attention.wqkv.bias", cfg)) : null,
          w.matrix(p + "attention.wo.weight"),
          w.vector(p + "ffn_norm.weight"),
          w.matrix(List.of(Rows.all(p + "feed_forward.w1.weight"), Rows.all(p + "feed_forward.w3.weight"))),
          w.matrix(p + "feed_forward.w2.weight")));
    }
    return new ModelWeights(
        w.table("model.tok_embeddings.weight"),
        layers,
        w.vector("model.norm.weight"),
        w.matrix("output.weight"));
  }

  /** Row ranges of the grouped [kvHeads * (g + 2) * hd] layout, in [q heads | k heads | v heads] order. */
  static List<Rows> regrouped(String tensor, ModelConfig cfg) {
    int kv = cfg.numKvHeads();
    int g = cfg.groupSize();
    int hd = cfg.headDim();
    long group = (long) (g + 2) * hd;
    List<Rows> rows = new ArrayList<>(3 * kv);
    for (int j = 0; j < kv; j++) rows.add(new Rows(tensor, j * group, (long) g * hd));
    for (int j = 0; j < kv; j++) rows.add(new Rows(tensor, j * group + (long) g * hd, hd));
    for (int j = 0; j < kv; j++) rows.add(new Rows(tensor, j * group + (long) (g + 1) * hd, hd));
    return rows;
  }
}
