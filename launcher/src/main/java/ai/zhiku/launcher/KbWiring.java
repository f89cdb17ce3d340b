package ai.zhiku.launcher;

import ai.zhiku.api.ApiServerConfig;
import ai.zhiku.api.KbRoutes;
import ai.zhiku.common.StartupException;
import io.vertx.core.Vertx;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;

/** Builds the knowledge-base routes when a database is configured. */
final class KbWiring {
  private KbWiring() {}

  static KbRoutes create(Vertx vertx, ApiServerConfig config) {
    if (config.kbDatabaseUrl() == null || config.kbDatabaseUrl().isBlank()) {
      return null;
    }
    probe(config.kbDatabaseUrl());
    return ai.zhiku.api.kb.KnowledgeBaseRoutes.create(vertx, config);
  }

  /**
   * Says in one line when the database cannot be reached at start. The server still starts (the pool
   * connects once the database is up, and knowledge-base requests get 503 until then), as it does
   * when the database restarts later.
   */
  private static void probe(String url) {
    DriverManager.setLoginTimeout(3);
    try (Connection c = DriverManager.getConnection(url)) {
      c.isValid(3);
    } catch (SQLException e) {
      String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
      System.err.println("zhiku: knowledge bases: cannot reach the database at " + StartupException.redact(url) + " (" + reason
          + "); knowledge-base requests get 503 until it is up; start it (scripts/postgres.sh start) or fix --kb-database-url");
    }
  }
}
