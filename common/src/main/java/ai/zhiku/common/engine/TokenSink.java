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

  void onFinish(FinishReason reason, int promptTokens, int completionTokens);

  void onError(Throwable error);
}
