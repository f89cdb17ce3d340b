package ai.zhiku.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.Options;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus (Debian's package, installed by scripts/test-deps.sh) scrapes the all-in-one
 * server serving a real (tiny) chat model; a generation metric is then read back through
 * Prometheus's HTTP query API.
 */
class PrometheusScrapeTest {

  @TempDir
  Path tmp;

  @Test
  void prometheusScrapesAGenerationMetric() throws Exception {
    assertThat(new File("/usr/bin/prometheus")).as("prometheus is installed by scripts/test-deps.sh (run bin/zhiku test)").exists();
    Path golden = Path.of(System.getProperty("zhiku.golden.dir"), "internlm2-tiny");
    Main.Serving serving = Main.serve(Options.parse(new String[] {"--model-path", golden.toString(), "--no-default-embedding",
        "--port", "0", "--controller-port", "0", "--dtype", "float32"}, java.util.Map.of()));
    int promPort;
    try (ServerSocket s = new ServerSocket(0)) {
      promPort = s.getLocalPort();
    }
    Path config = tmp.resolve("prometheus.yml");
    Files.writeString(config, """
        global:
          scrape_interval: 1s
        scrape_configs:
          - job_name: zhiku
            static_configs:
              - targets: ['127.0.0.1:%d']
        """.formatted(serving.port()));
    Process prometheus = new ProcessBuilder("/usr/bin/prometheus", "--config.file=" + config, "--storage.tsdb.path=" + tmp.resolve("data"),
        "--web.listen-address=127.0.0.1:" + promPort).redirectErrorStream(true).redirectOutput(tmp.resolve("prometheus.log").toFile()).start();
    HttpClient http = HttpClient.newHttpClient();
    try {
      HttpResponse<String> chat = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + serving.port() + "/v1/chat/completions"))
          .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
              "{\"model\":\"internlm2-tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}],\"max_tokens\":5,\"temperature\":0}"))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
      String query = URLEncoder.encode("sum(zhiku_completion_tokens_total{model=\"internlm2-tiny\"})", StandardCharsets.UTF_8);
      double value = -1;
      long deadline = System.currentTimeMillis() + 60_000;
      while (System.currentTimeMillis() < deadline) {
        try {
          HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + promPort + "/api/v1/query?query=" + query))
              .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
          JsonArray result = new JsonObject(r.body()).getJsonObject("data").getJsonArray("result");
          if (!result.isEmpty()) {
            value = Double.parseDouble(result.getJsonObject(0).getJsonArray("value").getString(1));
            if (value > 0) {
              break;
            }
          }
        } catch (java.io.IOException notUpYet) {
          // prometheus is still starting
        }
        Thread.sleep(500);
      }
      assertThat(value).as("zhiku_completion_tokens_total as Prometheus sees it; log: " + tmp.resolve("prometheus.log")).isEqualTo(5.0);
    } finally {
      prometheus.destroy();
      serving.close();
    }
  }
}
