package ai.zhiku.common.engine;

/**
 * Receives one generation's output, in order, from the engine's thread. Exactly one of
 * {@link #onFinish} and {@link #onError} is called, once, last. Implementations must not block.
 */
public interface TokenSink {
  /**
   * New text since the previous call; never splits a UTF-8 character and never contains any part
   * of a stop string. {@code tokens} is how many generated tokens this text came from (0 for echo).
   */
  void onText(String text, int tokens);

  /**
   * The log probability of the next generated token, before the text it is part of (when the
   * request asked for logprobs). Tokens come in order; text may lag them (held-back characters).
   */
  default void onLogprob(TokenLogprob logprob) {}

  /** The tool calls the reply made, once, just before {@link #onFinish} with {@link FinishReason#TOOL_CALLS}. */
  default void onToolCalls(java.util.List<ToolCall> calls) {}

  void onFinish(FinishReason reason, int promptTokens, int completionTokens);

  void onError(Throwable error);
}
