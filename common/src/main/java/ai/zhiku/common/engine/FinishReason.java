package ai.zhiku.common.engine;

public enum FinishReason {
  /** eos, a model stop id, or a stop string. */
  STOP,
  /** max_tokens or the context length was reached. */
  LENGTH
}
