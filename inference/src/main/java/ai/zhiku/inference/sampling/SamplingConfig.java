package ai.zhiku.inference.sampling;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.SamplingParams;
import java.util.List;

/**
 * Sampling parameters with defaults applied and ranges checked.
 *
 * @param temperature 0 means greedy
 * @param topK 0 means off
 * @param maxTokens completion tokens allowed
 */
public record SamplingConfig(float temperature, float topP, int topK, float repetitionPenalty,
                             float presencePenalty, float frequencyPenalty, long seed, boolean seeded,
                             int maxTokens, List<String> stop) {

  public boolean greedy() { return temperature == 0f; }

  /**
   * Resolves the client's parameters. {@code room} is the context left after the prompt: the
   * default max_tokens.
   */
  public static SamplingConfig resolve(SamplingParams p, int room) {
    float temperature = p.temperature() == null ? 1f : p.temperature();
    if (!(temperature >= 0 && temperature <= 2)) throw ZhikuException.invalid("temperature", "temperature must be between 0 and 2, got " + temperature);
    float topP = p.topP() == null ? 1f : p.topP();
    if (!(topP > 0 && topP <= 1)) throw ZhikuException.invalid("top_p", "top_p must be in (0, 1], got " + topP);
    int topK = p.topK() == null ? 0 : p.topK();
    if (topK < -1) throw ZhikuException.invalid("top_k", "top_k must be -1, 0 (off) or positive, got " + topK);
    if (topK == -1) topK = 0;
    float rep = p.repetitionPenalty() == null ? 1f : p.repetitionPenalty();
    if (!(rep > 0)) throw ZhikuException.invalid("repetition_penalty", "repetition_penalty must be > 0, got " + rep);
    float presence = p.presencePenalty() == null ? 0f : p.presencePenalty();
    if (!(presence >= -2 && presence <= 2)) throw ZhikuException.invalid("presence_penalty", "presence_penalty must be between -2 and 2, got " + presence);
    float frequency = p.frequencyPenalty() == null ? 0f : p.frequencyPenalty();
    if (!(frequency >= -2 && frequency <= 2)) throw ZhikuException.invalid("frequency_penalty", "frequency_penalty must be between -2 and 2, got " + frequency);
    if (p.maxTokens() != null && p.maxTokens() < 1) throw ZhikuException.invalid("max_tokens", "max_tokens must be at least 1, got " + p.maxTokens());
    int maxTokens = p.maxTokens() == null ? Math.max(room, 0) : p.maxTokens();
    for (String s : p.stop()) {
      if (s == null || s.isEmpty()) throw ZhikuException.invalid("stop", "stop strings must not be empty");
    }
    if (p.stop().size() > 16) throw ZhikuException.invalid("stop", "at most 16 stop strings are allowed");
    boolean seeded = p.seed() != null;
    long seed = seeded ? p.seed() : System.nanoTime() ^ Thread.currentThread().threadId();
    return new SamplingConfig(temperature, topP, topK, rep, presence, frequency, seed, seeded, maxTokens, p.stop());
  }
}
