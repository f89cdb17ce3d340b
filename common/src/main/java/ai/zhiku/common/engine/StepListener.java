package ai.zhiku.common.engine;

/**
 * Told about every forward pass an engine runs, from the engine's thread; the worker turns it into
 * metrics. Implementations must be cheap and must not block.
 */
@FunctionalInterface
public interface StepListener {
  StepListener NONE = (sequences, prefillTokens, decodeTokens, kvUsage) -> { };

  /**
   * @param sequences sequences (or embedding inputs) in the pass: the batch size
   * @param prefillTokens prompt tokens the pass computed (all input tokens, for encoders)
   * @param decodeTokens generated tokens the pass computed (one per decoding sequence)
   * @param kvUsage fraction of the KV cache in use after the pass, 0 to 1 (0 for encoders)
   */
  void onStep(int sequences, int prefillTokens, int decodeTokens, double kvUsage);
}
