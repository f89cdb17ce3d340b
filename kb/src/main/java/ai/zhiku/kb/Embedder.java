package ai.zhiku.kb;

import java.util.List;

/** Turns texts into unit-length vectors of a fixed dimension. Implementations are thread-safe. */
public interface Embedder {
  /**
   * Embeds texts in order.
   *
   * @param query true for search queries (models with a query instruction prepend it), false for passages
   * @return one vector of {@link #dimension()} floats per text
   */
  List<float[]> embed(List<String> texts, boolean query);

  int dimension();
}
