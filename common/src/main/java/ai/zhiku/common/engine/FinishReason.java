package ai.zhiku.common.engine;

public enum FinishReason {
  /** eos, a model stop id, or a stop string. */
  STOP,
  /** max_tokens or the context length was reached. */
  LENGTH,
  /** The reply ended with one or more tool calls (given to {@link TokenSink#onToolCalls} first). */
  TOOL_CALLS
}
