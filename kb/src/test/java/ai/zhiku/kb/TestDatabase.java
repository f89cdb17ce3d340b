package ai.zhiku.kb;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The real PostgreSQL the tests run against: {@code ZHIKU_TEST_DATABASE_URL} (system property or environment),
 * else the private cluster of {@code scripts/postgres.sh}. Each test class gets a fresh schema of its own.
 */
public final class TestDatabase implements AutoCloseable {
  private final String baseUrl;
  private final String schema;

  private TestDatabase(String baseUrl, String schema) {
    this.baseUrl = baseUrl;
    this.schema = schema;
  }

  public static TestDatabase freshSchema(String prefix) {
    String base = baseUrl();
    String schema = (prefix + "_" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffffL))
        .toLowerCase(Locale.ROOT);
    try (Connection c = DriverManager.getConnection(base); Statement s = c.createStatement()) {
      // extensions live in public so every schema sees them
      s.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public");
      s.execute("CREATE SCHEMA " + schema);
    } catch (SQLException e) {
      throw new IllegalStateException("test database not reachable at " + base
          + " (run scripts/postgres.sh install && scripts/postgres.sh start)", e);
    }
    return new TestDatabase(base, schema);
  }

  /** JDBC URL whose connections work in this schema (public stays on the path for the extension types). */
  public String url() {
    return baseUrl + (baseUrl.contains("?") ? "&" : "?") + "currentSchema=" + schema + ",public";
  }

  public String schema() {
    return schema;
  }

  public KbConfig config(int poolSize) {
    return new KbConfig(url(), poolSize, "hashing-test");
  }

  public static String baseUrl() {
    String url = System.getProperty("ZHIKU_TEST_DATABASE_URL");
    if (url == null || url.isBlank()) {
      url = System.getenv("ZHIKU_TEST_DATABASE_URL");
    }
    if (url == null || url.isBlank()) {
      url = script("url").strip();
    }
    return url;
  }

  /** True when the test database is the private cluster that scripts/postgres.sh controls. */
  public static boolean scriptManaged() {
    try {
      return baseUrl().equals(script("url").strip());
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Runs scripts/postgres.sh with one command and returns its stdout. */
  public static String script(String command) {
    Path script = repoRoot().resolve("scripts/postgres.sh");
    try {
      Process p = new ProcessBuilder("bash", script.toString(), command)
          .redirectError(ProcessBuilder.Redirect.INHERIT).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException("scripts/postgres.sh " + command + " failed");
      }
      return out;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.exists(p.resolve("scripts/postgres.sh"))) {
      p = p.getParent();
    }
    if (p == null) {
      throw new IllegalStateException("cannot find scripts/postgres.sh above the working directory");
    }
    return p;
  }

  public static Path seedsDir() {
    String dir = System.getProperty("zhiku.seeds.dir");
    Path p = dir != null ? Path.of(dir) : repoRoot().resolve("../shared/seeds");
    return p.normalize();
  }

  @Override
  public void close() {
    try (Connection c = DriverManager.getConnection(baseUrl); Statement s = c.createStatement()) {
      s.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    } catch (SQLException e) {
      // best effort: a leftover schema is harmless
    }
  }
}
