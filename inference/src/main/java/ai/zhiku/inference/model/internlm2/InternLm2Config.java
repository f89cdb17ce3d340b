package ai.zhiku.inference.model.internlm2;

import ai.zhiku.inference.model.CheckpointShapes;
import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.weights.CheckpointException;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/**
 * InternLM2's and InternLM2.5's config.json (internlm/internlm2-chat-*, internlm2_5-*-chat), the
 * fields the decoder needs. InternLM2.5 differs only in values: rope_theta, rope_scaling (dynamic
 * NTK with its factor) and max_position_embeddings (up to 262144 in the -1m variant).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record InternLm2Config(
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
    @JsonProperty("bias") boolean bias,
    @JsonProperty("hidden_act") String hiddenAct) {

  /**
   * The longest sequence served. Dynamic NTK scaling (InternLM2.5's configs) exists to run past
   * max_position_embeddings, where it starts raising the rotary base: its range is
   * max_position_embeddings x factor (vLLM's rule; internlm2_5-7b-chat-1m: 262144 x 2.5). Without
   * scaling, or with linear scaling, it is max_position_embeddings.
   */
  int servedContext(String scaling, double factor) {
    if (!scaling.equals("dynamic") || factor <= 1) return maxPositionEmbeddings;
    return (int) Math.min(Integer.MAX_VALUE - 1, Math.floor(maxPositionEmbeddings * factor));
  }

  public ModelConfig toModelConfig() {
    CheckpointShapes.requirePositive("hidden_size", hiddenSize);
    CheckpointShapes.requirePositive("num_hidden_layers", numLayers);
    CheckpointShapes.requirePositive("num_attention_heads", numHeads);
    CheckpointShapes.requirePositive("intermediate_size", intermediateSize);
    CheckpointShapes.requirePositive("vocab_size", vocabSize);
    CheckpointShapes.requirePositive("max_position_embeddings", maxPositionEmbeddings);
    if (hiddenAct != null && !hiddenAct.equals("silu")) {
      throw new CheckpointException("config.json: hidden_act " + hiddenAct + " is not supported (silu only)");
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
    return new ModelConfig("internlm2", hiddenSize, numLayers, numHeads, kv, hiddenSize / numHeads,
        intermediateSize, vocabSize, servedContext(scaling, factor), rmsNormEps == null ? 1e-6f : rmsNormEps, bias,
        new ModelConfig.Rope.RotateHalf(ropeTheta == null ? 10000.0 : ropeTheta, scaling, factor, maxPositionEmbeddings));
  }
}
