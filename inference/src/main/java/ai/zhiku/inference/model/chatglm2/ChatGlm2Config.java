package ai.zhiku.inference.model.chatglm2;

import ai.zhiku.inference.model.CheckpointShapes;
import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.weights.CheckpointException;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/** ChatGLM2's config.json (THUDM/chatglm2-6b), the fields the decoder needs. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ChatGlm2Config(
    @JsonProperty("hidden_size") int hiddenSize,
    @JsonProperty("num_layers") int numLayers,
    @JsonProperty("num_attention_heads") int numHeads,
    @JsonProperty("kv_channels") Integer kvChannels,
    @JsonProperty("multi_query_attention") boolean multiQueryAttention,
    @JsonProperty("multi_query_group_num") int multiQueryGroupNum,
    @JsonProperty("ffn_hidden_size") int ffnHiddenSize,
    @JsonProperty("padded_vocab_size") int paddedVocabSize,
    @JsonProperty("seq_length") int seqLength,
    @JsonProperty("layernorm_epsilon") Float layernormEpsilon,
    @JsonProperty("add_qkv_bias") boolean addQkvBias,
    @JsonProperty("add_bias_linear") boolean addBiasLinear,
    @JsonProperty("rmsnorm") Boolean rmsnorm,
    @JsonProperty("original_rope") Boolean originalRope,
    @JsonProperty("post_layer_norm") Boolean postLayerNorm,
    @JsonProperty("apply_residual_connection_post_layernorm") boolean residualPostLayernorm,
    @JsonProperty("rope_ratio") Float ropeRatio,
    @JsonProperty("eos_token_id") Integer eosTokenId) {

  /** The shared shape; refuses variants this decoder does not implement. */
  public ModelConfig toModelConfig() {
    CheckpointShapes.requirePositive("hidden_size", hiddenSize);
    CheckpointShapes.requirePositive("num_layers", numLayers);
    CheckpointShapes.requirePositive("num_attention_heads", numHeads);
    CheckpointShapes.requirePositive("ffn_hidden_size", ffnHiddenSize);
    CheckpointShapes.requirePositive("padded_vocab_size", paddedVocabSize);
    CheckpointShapes.requirePositive("seq_length", seqLength);
    if (multiQueryAttention) CheckpointShapes.requirePositive("multi_query_group_num", multiQueryGroupNum);
    if (Boolean.FALSE.equals(rmsnorm) || Boolean.FALSE.equals(originalRope) || Boolean.FALSE.equals(postLayerNorm)
        || residualPostLayernorm || addBiasLinear) {
      throw new CheckpointException("config.json: this ChatGLM variant (rmsnorm/original_rope/post_layer_norm/"
          + "apply_residual_connection_post_layernorm/add_bias_linear) is not supported");
    }
    if (ropeRatio != null && ropeRatio != 1f) {
      throw new CheckpointException("config.json: rope_ratio " + ropeRatio + " is not supported");
    }
    int headDim = kvChannels != null ? kvChannels : hiddenSize / numHeads;
    int kvHeads = multiQueryAttention ? multiQueryGroupNum : numHeads;
    return new ModelConfig("chatglm2", hiddenSize, numLayers, numHeads, kvHeads, headDim, ffnHiddenSize,
        paddedVocabSize, seqLength, layernormEpsilon == null ? 1e-5f : layernormEpsilon, addQkvBias,
        new ModelConfig.Rope.Interleaved(headDim / 2, 10000.0));
  }
}
