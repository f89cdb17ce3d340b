package ai.zhiku.inference.model;

import ai.zhiku.inference.weights.CheckpointException;
import ai.zhiku.inference.weights.WeightsIndex;
import ai.zhiku.inference.weights.quantized.QuantizedRows;
import ai.zhiku.inference.weights.quantized.StoredQuantization;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Checks config.json against the checkpoint before any weight is read: the fields the decoder
 * divides by are present, and every tensor the config implies has the shape it implies. A mismatch
 * is one sentence naming the tensor and both shapes, instead of an index or arithmetic error deep
 * in the loader or the first forward pass.
 */
public final class CheckpointShapes {
  private CheckpointShapes() {}

  /** Refuses a field of config.json that is missing or not positive (it reads as 0). */
  public static void requirePositive(String field, long value) {
    if (value <= 0) {
      throw new CheckpointException("config.json " + (value == 0 ? "has no " + field : "has " + field + " " + value)
          + " (it must be a positive number); the file is incomplete or not this model family's");
    }
  }

  /** Compares each tensor the config implies with the checkpoint's, where the checkpoint has it. */
  public static void check(WeightsIndex index, ModelConfig c) {
    check(index, c, null);
  }

  /** As {@link #check(WeightsIndex, ModelConfig)}, quantized layers compared by the float shape they stand for. */
  public static void check(WeightsIndex index, ModelConfig c, StoredQuantization stored) {
    Map<String, long[]> expected = expected(c);
    for (Map.Entry<String, long[]> e : expected.entrySet()) {
      long[] actual = stored == null ? null : QuantizedRows.shapeOf(index, stored, e.getKey());
      if (actual == null && !index.contains(e.getKey())) {
        continue; // a missing tensor is the loader's to report (some are optional, such as a tied output)
      }
      if (actual == null) actual = index.info(e.getKey()).shape();
      if (!Arrays.equals(actual, e.getValue())) {
        throw new CheckpointException("config.json does not match the weights: tensor " + e.getKey() + " has shape "
            + Arrays.toString(actual) + " but config.json (hidden_size " + c.hiddenSize() + ", " + c.numHeads() + " heads of "
            + c.headDim() + ", " + c.numKvHeads() + " key/value heads, intermediate " + c.ffnSize() + ", vocab "
            + c.vocabSize() + ") implies " + Arrays.toString(e.getValue())
            + "; use the config.json that came with these weights");
      }
    }
  }

  private static Map<String, long[]> expected(ModelConfig c) {
    long h = c.hiddenSize();
    long q = (long) c.numHeads() * c.headDim();
    long kv = (long) c.numKvHeads() * c.headDim();
    long ffn = c.ffnSize();
    Map<String, long[]> m = new LinkedHashMap<>();
    switch (c.family()) {
      case "internlm2" -> {
        m.put("model.tok_embeddings.weight", new long[] {c.vocabSize(), h});
        for (int l = 0; l < c.numLayers(); l++) {
          String p = "model.layers." + l + ".";
          m.put(p + "attention_norm.weight", new long[] {h});
          m.put(p + "attention.wqkv.weight", new long[] {q + 2 * kv, h});
          m.put(p + "attention.wo.weight", new long[] {h, q});
          m.put(p + "ffn_norm.weight", new long[] {h});
          m.put(p + "feed_forward.w1.weight", new long[] {ffn, h});
          m.put(p + "feed_forward.w3.weight", new long[] {ffn, h});
          m.put(p + "feed_forward.w2.weight", new long[] {h, ffn});
        }
        m.put("model.norm.weight", new long[] {h});
        m.put("output.weight", new long[] {c.vocabSize(), h});
      }
      case "chatglm2" -> {
        m.put("transformer.embedding.word_embeddings.weight", new long[] {c.vocabSize(), h});
        for (int l = 0; l < c.numLayers(); l++) {
          String p = "transformer.encoder.layers." + l + ".";
          m.put(p + "input_layernorm.weight", new long[] {h});
          m.put(p + "self_attention.query_key_value.weight", new long[] {q + 2 * kv, h});
          m.put(p + "self_attention.query_key_value.bias", new long[] {q + 2 * kv});
          m.put(p + "self_attention.dense.weight", new long[] {h, q});
          m.put(p + "post_attention_layernorm.weight", new long[] {h});
          m.put(p + "mlp.dense_h_to_4h.weight", new long[] {2 * ffn, h});
          m.put(p + "mlp.dense_4h_to_h.weight", new long[] {h, ffn});
        }
        m.put("transformer.encoder.final_layernorm.weight", new long[] {h});
        m.put("transformer.output_layer.weight", new long[] {c.vocabSize(), h});
      }
      default -> {
        // a family without a table here is checked by its own loader
      }
    }
    return m;
  }
}
