package ai.zhiku.common.engine;

import java.util.Map;

/**
 * One generation: a prompt, how to sample, and what else the client asked of the output.
 *
 * @param echo the prompt text comes back before the output (completions)
 * @param toolChoice how the model may use {@code input.tools()} (ignored without tools)
 * @param format free text or JSON enforced while decoding
 * @param logprobs -1: no log probabilities; k >= 0: each token's, with the k most likely alternatives
 * @param logitBias token id to a bias (-100..100) added to its logit before sampling
 */
public record GenerationRequest(String requestId, PromptInput input, SamplingParams sampling, boolean echo,
                                ToolChoice toolChoice, ResponseFormat format, int logprobs, Map<Integer, Float> logitBias) {
  public GenerationRequest {
    toolChoice = toolChoice == null ? ToolChoice.AUTO : toolChoice;
    format = format == null ? ResponseFormat.TEXT : format;
    logitBias = logitBias == null ? Map.of() : Map.copyOf(logitBias);
  }

  public GenerationRequest(String requestId, PromptInput input, SamplingParams sampling, boolean echo) {
    this(requestId, input, sampling, echo, ToolChoice.AUTO, ResponseFormat.TEXT, -1, Map.of());
  }

  /** The same request with other sampling parameters. */
  public GenerationRequest withSampling(SamplingParams s) {
    return new GenerationRequest(requestId, input, s, echo, toolChoice, format, logprobs, logitBias);
  }

  /** Tools are offered and the reply is read for calls. */
  public boolean parsesToolCalls() {
    return input.isChat() && !input.tools().isEmpty() && toolChoice.mode() != ToolChoice.Mode.NONE;
  }
}
