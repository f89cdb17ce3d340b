package ai.zhiku.launcher;

import ai.zhiku.api.ApiServerConfig;
import ai.zhiku.api.KbRoutes;
import io.vertx.core.Vertx;

/** Builds the knowledge-base routes when a database is configured. */
final class KbWiring {
  private KbWiring() {}

  static KbRoutes create(Vertx vertx, ApiServerConfig config) {
    if (config.kbDatabaseUrl() == null || config.kbDatabaseUrl().isBlank()) {
      return null;
    }
    return ai.zhiku.api.kb.KnowledgeBaseRoutes.create(vertx, config);
  }
}
