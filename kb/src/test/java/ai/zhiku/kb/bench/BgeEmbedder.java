package ai.zhiku.kb.bench;

import ai.zhiku.common.engine.EmbedItem;
import ai.zhiku.common.engine.EmbeddingEngine;
import ai.zhiku.kb.Embedder;
import java.util.List;

/**
 * Benchmark adapter: a kb {@link Embedder} over an in-process {@link EmbeddingEngine} (the bundled
 * bge-small-zh-v1.5), so retrieval quality can be measured with the real default model without a server.
 */
final class BgeEmbedder implements Embedder {
  private final EmbeddingEngine engine;

  BgeEmbedder(EmbeddingEngine engine) {
    this.engine = engine;
  }

  @Override
  public List<float[]> embed(List<String> texts, boolean query) {
    return engine.embed(texts.stream().map(EmbedItem::text).toList(), query, true).join().vectors();
  }

  @Override
  public int dimension() {
    return engine.info().dimension();
  }
}
