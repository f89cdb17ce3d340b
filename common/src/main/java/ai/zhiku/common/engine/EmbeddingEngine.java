package ai.zhiku.common.engine;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * An embedding model, as the worker's gRPC service sees it. {@link #embed} may be called from
 * many threads at once; implementations batch concurrent calls themselves.
 */
public interface EmbeddingEngine extends AutoCloseable {

  EmbeddingModelInfo info();

  /**
   * Embeds the inputs in order. {@code query} prefixes the model's query instruction (retrieval
   * queries only, never passages). Over-long input fails with INVALID_REQUEST naming the token
   * count and the limit unless {@code truncate} is set.
   */
  CompletableFuture<EmbeddingResult> embed(List<EmbedItem> inputs, boolean query, boolean truncate);

  /** Installs the listener told about every forward pass (for metrics); engines without one ignore it. */
  default void stepListener(StepListener listener) {}

  @Override
  void close();
}
