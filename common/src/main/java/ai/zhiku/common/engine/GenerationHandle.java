package ai.zhiku.common.engine;

/** A running generation. */
public interface GenerationHandle {
  /** Stops the generation and frees its resources (KV cache) at once; the sink hears nothing more. Idempotent. */
  void cancel();
}
