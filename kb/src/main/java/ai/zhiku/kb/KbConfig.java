package ai.zhiku.kb;

import ai.zhiku.kb.ingest.DocumentLimits;
import java.util.Objects;

/**
 * How the knowledge-base library reaches its database, and what one uploaded document may cost.
 *
 * @param jdbcUrl PostgreSQL JDBC URL (may carry {@code user}, {@code password}, {@code currentSchema})
 * @param poolSize maximum number of pooled connections
 * @param defaultEmbeddingModel embedding model used when a create request names none
 * @param documentLimits caps on reading one document (decompressed .docx, PDF pages, parse time, text)
 */
public record KbConfig(String jdbcUrl, int poolSize, String defaultEmbeddingModel, DocumentLimits documentLimits) {
  public KbConfig {
    Objects.requireNonNull(jdbcUrl, "jdbcUrl");
    if (!jdbcUrl.startsWith("jdbc:postgresql:")) {
      throw new IllegalArgumentException("kb database URL must be a jdbc:postgresql: URL");
    }
    if (poolSize < 1 || poolSize > 200) {
      throw new IllegalArgumentException("kb pool size must be 1..200, got " + poolSize);
    }
    Objects.requireNonNull(defaultEmbeddingModel, "defaultEmbeddingModel");
    Objects.requireNonNull(documentLimits, "documentLimits");
  }

  /** With the default {@link DocumentLimits#DEFAULTS}. */
  public KbConfig(String jdbcUrl, int poolSize, String defaultEmbeddingModel) {
    this(jdbcUrl, poolSize, defaultEmbeddingModel, DocumentLimits.DEFAULTS);
  }

  public KbConfig withDocumentLimits(DocumentLimits limits) {
    return new KbConfig(jdbcUrl, poolSize, defaultEmbeddingModel, limits);
  }
}
