package ai.zhiku.kb.db;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the versioned scripts under {@code db/migration/} that the schema has not seen yet, all in one
 * transaction, under a transaction-scoped advisory lock so two processes starting together do not race.
 * Applied versions are recorded in {@code schema_version} (in the connection's current schema).
 */
public final class Migrator {
  private static final Logger LOG = LoggerFactory.getLogger(Migrator.class);

  /** Every migration, in order. A new schema change is a new file appended here, never an edit. */
  static final List<String> MIGRATIONS = List.of("V1__knowledge_bases.sql", "V2__knowledge_base_description.sql");

  /** Arbitrary constant identifying the kb migration lock (combined with the schema name). */
  private static final int LOCK_NAMESPACE = 0x5a4b4d31; // "ZKM1"

  public void migrate(Connection c) throws SQLException {
    boolean auto = c.getAutoCommit();
    c.setAutoCommit(false);
    try {
      try (PreparedStatement lock = c.prepareStatement(
          "SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))")) {
        lock.setInt(1, LOCK_NAMESPACE);
        lock.execute();
      }
      try (Statement s = c.createStatement()) {
        s.execute("""
            CREATE TABLE IF NOT EXISTS schema_version (
              version     integer     PRIMARY KEY,
              script      text        NOT NULL,
              applied_at  timestamptz NOT NULL DEFAULT now()
            )""");
      }
      int current;
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT coalesce(max(version), 0) FROM schema_version")) {
        rs.next();
        current = rs.getInt(1);
      }
      for (String script : MIGRATIONS) {
        int version = versionOf(script);
        if (version <= current) {
          continue;
        }
        try (Statement s = c.createStatement()) {
          s.execute(load(script));
        }
        try (PreparedStatement ins =
            c.prepareStatement("INSERT INTO schema_version (version, script) VALUES (?, ?)")) {
          ins.setInt(1, version);
          ins.setString(2, script);
          ins.executeUpdate();
        }
        LOG.info("applied kb schema migration {}", script);
      }
      c.commit();
    } catch (SQLException | RuntimeException e) {
      try {
        c.rollback();
      } catch (SQLException ignored) {
        // broken connection; the pool discards it
      }
      throw e;
    } finally {
      try {
        c.setAutoCommit(auto);
      } catch (SQLException ignored) {
        // broken connection
      }
    }
  }

  static int versionOf(String script) {
    if (!script.matches("V\\d+__\\w+\\.sql")) {
      throw new IllegalStateException("bad migration name " + script);
    }
    return Integer.parseInt(script.substring(1, script.indexOf("__")));
  }

  private static String load(String script) {
    String path = "/db/migration/" + script;
    try (InputStream in = Migrator.class.getResourceAsStream(path)) {
      if (in == null) {
        throw new IllegalStateException("missing migration resource " + path);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read migration " + path, e);
    }
  }
}
