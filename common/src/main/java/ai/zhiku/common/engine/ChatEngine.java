package ai.zhiku.common.engine;

/**
 * A chat/completion model, as the worker's gRPC service sees it. Implementations own their native
 * memory and their threads; {@link #close()} frees both.
 */
public interface ChatEngine extends AutoCloseable {

  /** Context length, template name and other facts for Details and the controller. */
  ChatModelInfo info();

  /**
   * Tokens the input takes once rendered and tokenized (with the template's special tokens).
   *
   * @throws ai.zhiku.common.ZhikuException INVALID_REQUEST for input the template cannot render
   */
  int countTokens(PromptInput input);

  /** The token ids the input becomes (what {@link #countTokens} counts). */
  default int[] tokenize(PromptInput input) {
    throw ai.zhiku.common.ZhikuException.invalid("model", "this model does not expose its tokenizer");
  }

  /** The text of token ids, special tokens skipped; ids outside the vocabulary are a 400. */
  default String detokenize(int[] ids) {
    throw ai.zhiku.common.ZhikuException.invalid("model", "this model does not expose its tokenizer");
  }

  /**
   * Starts a generation and returns at once. Output goes to {@code sink} from the engine's
   * thread. A prompt that does not fit the context (prompt + max_tokens) is reported through
   * {@code sink.onError} with {@link ai.zhiku.common.ZhikuException#contextLength}, or thrown.
   */
  GenerationHandle submit(GenerationRequest request, TokenSink sink);

  /** Installs the listener told about every forward pass (for metrics); engines without one ignore it. */
  default void stepListener(StepListener listener) {}

  /**
   * Why the engine can serve no more (its thread died: an Error in a step, native memory gone), or
   * null while it is healthy. Once set it stays set; the worker reports it and stops taking traffic.
   */
  default String failure() { return null; }

  /** The scheduler's and KV cache's state now (cheap: read from any thread), or {@link EngineStats#NONE}. */
  default EngineStats stats() { return EngineStats.NONE; }

  @Override
  void close();
}
