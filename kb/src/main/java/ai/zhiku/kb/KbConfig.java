package ai.zhiku.kb;

import java.util.Objects;

/**
 * How the knowledge-base library reaches its database.
 *
 * @param jdbcUrl PostgreSQL JDBC URL (may carry {@code user}, {@code password}, {@code currentSchema})
 * @param poolSize maximum number of pooled connections
 * @param defaultEmbeddingModel embedding model used when a create request names none
 */
public record KbConfig(String jdbcUrl, int poolSize, String defaultEmbeddingModel) {
  public KbConfig {
    Objects.requireNonNull(jdbcUrl, "jdbcUrl");
    if (!jdbcUrl.startsWith("jdbc:postgresql:")) {
      throw new IllegalArgumentException("kb database URL must be a jdbc:postgresql: URL");
    }
    if (poolSize < 1 || poolSize > 200) {
      throw new IllegalArgumentException("kb pool size must be 1..200, got " + poolSize);
    }
    Objects.requireNonNull(defaultEmbeddingModel, "defaultEmbeddingModel");
  }
}
