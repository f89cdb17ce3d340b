package ai.zhiku.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.Options;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The web UI in a real browser: Debian's chromium, driven by playwright-core from
 * {@code src/test/webui/webui-test.mjs}, against the all-in-one server that {@code bin/zhiku serve}
 * starts (the tiny InternLM2 checkpoint on the real engine, the bundled embedding model, knowledge
 * bases on the test database), plus a second one with API keys on and CORS limited to another site. scripts/test-deps.sh installs
 * chromium and runs {@code npm ci}; without them the test is skipped, except under CI, where it fails.
 * Screenshots land in {@code target/webui-screenshots}.
 */
class WebUiBrowserTest {
  static final Path HARNESS = Path.of("src/test/webui").toAbsolutePath();
  static final String CHROMIUM = System.getenv().getOrDefault("ZHIKU_CHROMIUM", "/usr/bin/chromium");
  static final String KEY = "sk-webui-" + Long.toHexString(System.nanoTime());

  @Test
  void chatAndKnowledgeBasesWorkInChromium() throws Exception {
    String node = onPath("node");
    List<String> missing = new ArrayList<>();
    if (!Files.isExecutable(Path.of(CHROMIUM))) {
      missing.add(CHROMIUM);
    }
    if (node == null) {
      missing.add("node");
    }
    if (!Files.isDirectory(HARNESS.resolve("node_modules/playwright-core"))) {
      missing.add(HARNESS.resolve("node_modules") + " (npm ci)");
    }
    if (!missing.isEmpty()) {
      String why = "the browser test needs " + String.join(", ", missing) + "; scripts/test-deps.sh installs them (bin/zhiku test)";
      boolean ci = System.getenv("CI") != null && !System.getenv("CI").isBlank() && !System.getenv("CI").equalsIgnoreCase("false");
      assertThat(ci).as(why + " — under CI this is a failure, not a skip").isFalse();
      Assumptions.abort(why);
    }
    String db = System.getProperty("ZHIKU_TEST_DATABASE_URL", System.getenv("ZHIKU_TEST_DATABASE_URL"));
    assertThat(db).as("ZHIKU_TEST_DATABASE_URL (bin/zhiku test starts the database and sets it)").isNotBlank();
    String model = Path.of(System.getProperty("zhiku.golden.dir"), "internlm2-tiny").toString();

    Main.Serving open = Main.serve(Options.parse(new String[] {"--model-path", model, "--port", "0", "--controller-port", "0",
        "--dtype", "float32", "--kb-database-url", db}, Map.of()));
    Main.Serving keyed = null;
    try {
      keyed = Main.serve(Options.parse(new String[] {"--model-path", model, "--no-default-embedding", "--port", "0",
          "--controller-port", "0", "--dtype", "float32", "--api-keys", KEY,
          // CORS restricted to another site: the page's own requests must still pass
          "--allowed-origins", "https://example.com"}, Map.of()));
      Path out = Path.of("target/webui-screenshots").toAbsolutePath();
      Process p = new ProcessBuilder(node, "webui-test.mjs", "--base", "http://127.0.0.1:" + open.port(),
          "--keyed-base", "http://127.0.0.1:" + keyed.port(), "--key", KEY, "--out", out.toString())
          .directory(HARNESS.toFile()).redirectErrorStream(true).start();
      // the harness's lines go to the test log through System.out (a forked surefire JVM owns fd 1)
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        Thread pump = Thread.ofVirtual().start(() -> r.lines().forEach(line -> System.out.println("[webui] " + line)));
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new AssertionError("the browser test ran past 180 s");
        }
        pump.join(5000);
      }
      assertThat(p.exitValue()).as("webui-test.mjs exit code (its output is above; screenshots in " + out + ")").isZero();
    } finally {
      if (keyed != null) {
        keyed.close();
      }
      open.close();
    }
  }

  private static String onPath(String program) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      Path p = Path.of(dir, program);
      if (Files.isExecutable(p)) {
        return p.toString();
      }
    }
    return null;
  }
}
