package ai.zhiku.kb.db;

import ai.zhiku.common.ZhikuException;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection pool, schema migration on first use, and the translation of database failures into
 * {@link ZhikuException}s. The pool never stays broken: Hikari drops connections that fail with a
 * connection-class error, and migrations are retried on the next call until they have succeeded once.
 */
public final class Database implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Database.class);

  private final HikariDataSource pool;
  private volatile boolean migrated;

  public Database(String jdbcUrl, int poolSize) {
    HikariConfig cfg = new HikariConfig();
    cfg.setJdbcUrl(jdbcUrl);
    cfg.setPoolName("zhiku-kb");
    cfg.setMaximumPoolSize(poolSize);
    cfg.setMinimumIdle(Math.min(2, poolSize));
    // fail fast when Postgres is away (callers get 503), and do not refuse to start without it
    cfg.setConnectionTimeout(3_000);
    cfg.setValidationTimeout(1_000);
    cfg.setInitializationFailTimeout(-1);
    cfg.setKeepaliveTime(60_000);
    cfg.addDataSourceProperty("connectTimeout", "3");
    cfg.addDataSourceProperty("tcpKeepAlive", "true");
    cfg.addDataSourceProperty("reWriteBatchedInserts", "true");
    cfg.addDataSourceProperty("ApplicationName", "zhiku-kb");
    this.pool = new HikariDataSource(cfg);
  }

  /** A work unit on one connection; the connection is returned to the pool afterwards. */
  @FunctionalInterface
  public interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  /** Runs work with auto-commit on. */
  public <T> T call(Work<T> work) {
    ensureMigrated();
    try (Connection c = pool.getConnection()) {
      return work.run(c);
    } catch (SQLException e) {
      throw translate(e);
    }
  }

  /**
   * Runs work in one transaction: committed when it returns, rolled back when it throws. A transaction that
   * loses a deadlock or a serialization conflict is run again (up to three times).
   */
  public <T> T inTransaction(Work<T> work) {
    for (int attempt = 1; ; attempt++) {
      try {
        return inTransactionOnce(work);
      } catch (RetryableConflict e) {
        if (attempt >= 3) {
          throw translate(e.sql);
        }
        LOG.debug("retrying a transaction after {}", e.sql.getSQLState());
      }
    }
  }

  private static final class RetryableConflict extends RuntimeException {
    final SQLException sql;

    RetryableConflict(SQLException sql) {
      super(sql);
      this.sql = sql;
    }
  }

  private <T> T inTransactionOnce(Work<T> work) {
    ensureMigrated();
    try (Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      try {
        T result = work.run(c);
        c.commit();
        return result;
      } catch (SQLException e) {
        rollbackQuietly(c);
        if ("40P01".equals(e.getSQLState()) || "40001".equals(e.getSQLState())) {
          throw new RetryableConflict(e);
        }
        throw e;
      } catch (RuntimeException e) {
        rollbackQuietly(c);
        throw e;
      } finally {
        resetQuietly(c);
      }
    } catch (SQLException e) {
      throw translate(e);
    }
  }

  private void ensureMigrated() {
    if (migrated) {
      return;
    }
    synchronized (this) {
      if (migrated) {
        return;
      }
      try (Connection c = pool.getConnection()) {
        new Migrator().migrate(c);
        migrated = true;
      } catch (SQLException e) {
        throw translate(e);
      }
    }
  }

  private static void rollbackQuietly(Connection c) {
    try {
      c.rollback();
    } catch (SQLException ignored) {
      // the connection is broken; the pool discards it
    }
  }

  private static void resetQuietly(Connection c) {
    try {
      c.setAutoCommit(true);
    } catch (SQLException ignored) {
      // the connection is broken; the pool discards it
    }
  }

  /** Maps a database failure to what the caller should see. */
  public static ZhikuException translate(SQLException e) {
    if (isUnavailable(e)) {
      return ZhikuException.unavailable("the knowledge-base database is unavailable; try again later");
    }
    LOG.error("knowledge-base database error (SQLState {})", e.getSQLState(), e);
    return ZhikuException.internal("knowledge-base database error", e);
  }

  static boolean isUnavailable(SQLException e) {
    if (e instanceof SQLTransientConnectionException) {
      return true; // pool timeout: no connection could be had
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException s) {
        String state = s.getSQLState();
        if (state != null && (state.startsWith("08") // connection exception
            || state.equals("57P01") || state.equals("57P02") || state.equals("57P03") // shutdown, crash, starting
            || state.equals("53300"))) { // too many connections
          return true;
        }
      }
    }
    return false;
  }

  @Override
  public void close() {
    pool.close();
  }
}
