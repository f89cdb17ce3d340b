package ai.zhiku.common.engine;

import java.util.List;

/**
 * One generated token's log probability, with the most likely alternatives at that step, in the
 * distribution the token was drawn from (after penalties, logit bias and any grammar mask).
 *
 * @param token the token's text (special tokens by name; a partial UTF-8 byte as U+FFFD)
 * @param bytes the token's UTF-8 bytes (null for a special token)
 * @param top the most likely tokens at this step, best first (empty unless top_logprobs was asked)
 */
public record TokenLogprob(String token, float logprob, byte[] bytes, List<Alternative> top) {
  public record Alternative(String token, float logprob, byte[] bytes) {}

  public TokenLogprob {
    top = top == null ? List.of() : List.copyOf(top);
  }
}
