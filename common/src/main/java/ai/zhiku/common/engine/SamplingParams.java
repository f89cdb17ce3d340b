package ai.zhiku.common.engine;

import java.util.List;

/**
 * Sampling parameters as the client sent them; null means "not given" and the engine applies
 * its default (temperature 1, top_p 1, top_k off, penalties off, max_tokens up to the context).
 * temperature 0 means greedy. repetition_penalty has Hugging Face semantics, presence and
 * frequency penalties OpenAI semantics.
 */
public record SamplingParams(
    Float temperature,
    Float topP,
    Integer topK,
    Integer maxTokens,
    List<String> stop,
    Float presencePenalty,
    Float frequencyPenalty,
    Float repetitionPenalty,
    Long seed) {

  public SamplingParams {
    stop = stop == null ? List.of() : List.copyOf(stop);
  }

  public static SamplingParams greedy(int maxTokens) {
    return new SamplingParams(0f, null, null, maxTokens, List.of(), null, null, null, null);
  }
}
