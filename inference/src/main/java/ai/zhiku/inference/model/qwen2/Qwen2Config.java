package ai.zhiku.inference.model.qwen2;

import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.weights.CheckpointException;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/** Qwen2's config.json (Qwen2ForCausalLM: Qwen2 and Qwen2.5), the fields the decoder needs. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Qwen2Config(
    @JsonProperty("hidden_size") int hiddenSize,
    @JsonProperty("num_hidden_layers") int numLayers,
    @JsonProperty("num_attention_heads") int numHeads,
    @JsonProperty("num_key_value_heads") Integer numKvHeads,
    @JsonProperty("intermediate_size") int intermediateSize,
    @JsonProperty("vocab_size") int vocabSize,
    @JsonProperty("max_position_embeddings") int maxPositionEmbeddings,
    @JsonProperty("rms_norm_eps") Float rmsNormEps,
    @JsonProperty("rope_theta") Double ropeTheta,
    @JsonProperty("rope_scaling") Map<String, Object> ropeScaling,
    @JsonProperty("tie_word_embeddings") Boolean tieWordEmbeddings,
    @JsonProperty("use_sliding_window") Boolean useSlidingWindow,
    @JsonProperty("sliding_window") Integer slidingWindow,
    @JsonProperty("max_window_layers") Integer maxWindowLayers,
    @JsonProperty("hidden_act") String hiddenAct,
    @JsonProperty("eos_token_id") Integer eosTokenId) {

  /** Whether the output head is the input embedding (config default: false, as transformers' Qwen2Config). */
  public boolean tied() { return Boolean.TRUE.equals(tieWordEmbeddings); }

  /**
   * Whether sliding-window attention would apply to some layer within {@code context} tokens:
   * with {@code use_sliding_window}, layers from {@code max_window_layers} on attend only to the
   * last {@code sliding_window} tokens.
   */
  public boolean slidingWindowApplies(int context) {
    if (!Boolean.TRUE.equals(useSlidingWindow) || slidingWindow == null) return false;
    int from = maxWindowLayers == null ? 0 : maxWindowLayers;
    return from < numLayers && slidingWindow < context;
  }

  public ModelConfig toModelConfig() {
    if (hiddenAct != null && !hiddenAct.equals("silu")) {
      throw new CheckpointException("config.json: hidden_act " + hiddenAct + " is not supported (silu only)");
    }
    if (slidingWindowApplies(maxPositionEmbeddings)) {
      throw new CheckpointException("config.json: use_sliding_window is true with sliding_window " + slidingWindow
          + " below the context of " + maxPositionEmbeddings + " tokens (layers " + (maxWindowLayers == null ? 0 : maxWindowLayers)
          + " and up); sliding-window attention is not implemented: set use_sliding_window to false (as Qwen2.5 ships)");
    }
    String scaling = "none";
    double factor = 1;
    if (ropeScaling != null) {
      Object type = ropeScaling.getOrDefault("type", ropeScaling.get("rope_type"));
      scaling = String.valueOf(type);
      if (!scaling.equals("linear") && !scaling.equals("dynamic")) {
        throw new CheckpointException("config.json: rope_scaling type " + scaling + " is not supported (linear, dynamic)");
      }
      factor = ((Number) ropeScaling.get("factor")).doubleValue();
    }
    int kv = numKvHeads == null ? numHeads : numKvHeads;
    return new ModelConfig("qwen2", hiddenSize, numLayers, numHeads, kv, hiddenSize / numHeads, intermediateSize,
        vocabSize, maxPositionEmbeddings, rmsNormEps == null ? 1e-6f : rmsNormEps, true,
        new ModelConfig.Rope.RotateHalf(ropeTheta == null ? 10000.0 : ropeTheta, scaling, factor, maxPositionEmbeddings));
  }
}
