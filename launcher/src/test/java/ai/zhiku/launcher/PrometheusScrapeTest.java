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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus (Debian's package, installed by scripts/test-deps.sh) scrapes the all-in-one
 * server serving a real (tiny) chat model; generation metrics, ours and the vLLM-compatible ones,
 * are then read back through Prometheus's HTTP query API, and every query of the Grafana dashboard
 * in docker/grafana/ is run against it.
 */
class PrometheusScrapeTest {

  @TempDir
  Path tmp;

  @Test
  void prometheusScrapesAGenerationMetric() throws Exception {
    assertThat(new File("/usr/bin/prometheus")).as("prometheus is installed by scripts/test-deps.sh (run bin/zhiku test)").exists();
    Path golden = Path.of(System.getProperty("zhiku.golden.dir"), "internlm2-tiny");
    // served under a name of its own: the meter registry is the JVM's, and other tests of this module
    // (the web UI's) serve the same checkpoint as internlm2-tiny before this one runs
    Main.Serving serving = Main.serve(Options.parse(new String[] {"--model-path", golden.toString(), "--model-names", "prometheus-tiny",
        "--no-default-embedding",
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
          - job_name: zhiku-serve
            static_configs:
              - targets: ['127.0.0.1:%d']
        """.formatted(serving.port()));
    Process prometheus = new ProcessBuilder("/usr/bin/prometheus", "--config.file=" + config, "--storage.tsdb.path=" + tmp.resolve("data"),
        "--web.listen-address=127.0.0.1:" + promPort).redirectErrorStream(true).redirectOutput(tmp.resolve("prometheus.log").toFile()).start();
    HttpClient http = HttpClient.newHttpClient();
    try {
      http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + serving.port() + "/v1/models")).build(),
          HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> chat = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + serving.port() + "/v1/chat/completions"))
          .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
              "{\"model\":\"prometheus-tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}],\"max_tokens\":5,\"temperature\":0}"))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
      String query = URLEncoder.encode("sum(zhiku_completion_tokens_total{model=\"prometheus-tiny\"})", StandardCharsets.UTF_8);
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

      String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + serving.port() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      assertVllmSeriesMoved(metrics);
      assertThat(query(http, promPort, "sum(vllm:generation_tokens_total{model_name=\"prometheus-tiny\"})")).isEqualTo(5.0);
      // a streaming request too: some series of the dashboard (open streams) exist from the first stream on
      HttpResponse<String> stream = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + serving.port() + "/v1/chat/completions"))
          .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
              "{\"model\":\"prometheus-tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}],\"max_tokens\":3,\"stream\":true}"))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertThat(stream.body()).contains("[DONE]");
      assertThat(query(http, promPort, "sum(zhiku_open_streams)")).isEqualTo(0.0);
      assertDashboardResolves(http, promPort);
    } finally {
      prometheus.destroy();
      serving.close();
    }
  }

  /** Every vLLM series with HELP text, moved by the one non-streaming request of 5 tokens; our own series fixed too. */
  private static void assertVllmSeriesMoved(String metrics) {
    for (String name : List.of("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
        "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:time_to_first_token_seconds",
        "vllm:inter_token_latency_seconds", "vllm:e2e_request_latency_seconds", "vllm:request_success_total",
        "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total")) {
      assertThat(metrics).as(name).containsPattern("(?m)^# HELP " + Pattern.quote(name) + " \\S");
      assertThat(metrics).as(name).containsPattern("(?m)^" + Pattern.quote(name) + "(_bucket|_count|_sum)?\\{[^}]*model_name=\"prometheus-tiny\"");
    }
    assertThat(metrics).as("no empty HELP").doesNotContainPattern("(?m)^# HELP \\S+ ?$");
    assertThat(sample(metrics, "vllm:generation_tokens_total{model_name=\"prometheus-tiny\"}")).isEqualTo(5.0);
    assertThat(sample(metrics, "vllm:prompt_tokens_total{model_name=\"prometheus-tiny\"}")).isPositive();
    assertThat(sample(metrics, "vllm:request_success_total{finished_reason=\"length\",model_name=\"prometheus-tiny\"}")).isEqualTo(1.0);
    assertThat(sample(metrics, "vllm:time_to_first_token_seconds_count{model_name=\"prometheus-tiny\"}")).isEqualTo(1.0);
    assertThat(sample(metrics, "vllm:e2e_request_latency_seconds_count{model_name=\"prometheus-tiny\"}")).isEqualTo(1.0);
    assertThat(sample(metrics, "vllm:inter_token_latency_seconds_count{model_name=\"prometheus-tiny\"}")).isEqualTo(4.0);
    assertThat(sample(metrics, "vllm:prefix_cache_queries_total{model_name=\"prometheus-tiny\"}")).isPositive();
    // a non-streaming request records its time to first token; /v1/models is not an "unknown" model
    assertThat(sample(metrics, "zhiku_ttft_seconds_count{model=\"prometheus-tiny\"}")).isEqualTo(1.0);
    assertThat(metrics).doesNotContain("model=\"unknown\"").contains("route=\"models\"");
    // bounded buckets: at most 15 per histogram series
    Map<String, Integer> buckets = new HashMap<>();
    metrics.lines().filter(l -> l.contains("_bucket{")).forEach(l -> buckets.merge(l.replaceAll(",?le=\"[^\"]*\"", "").replaceAll(" .*", ""), 1, Integer::sum));
    assertThat(buckets).isNotEmpty();
    buckets.forEach((series, n) -> assertThat(n).as(series).isLessThanOrEqualTo(15));
  }

  private static double sample(String metrics, String series) {
    return metrics.lines().filter(l -> l.startsWith(series + " ")).map(l -> Double.parseDouble(l.substring(series.length() + 1).trim()))
        .findFirst().orElseThrow(() -> new AssertionError("no sample " + series));
  }

  private static double query(HttpClient http, int promPort, String promql) throws Exception {
    long deadline = System.currentTimeMillis() + 30_000;
    while (true) {
      JsonArray result = run(http, promPort, promql).getJsonObject("data").getJsonArray("result");
      if (!result.isEmpty() || System.currentTimeMillis() > deadline) {
        return result.isEmpty() ? -1 : Double.parseDouble(result.getJsonObject(0).getJsonArray("value").getString(1));
      }
      Thread.sleep(500);
    }
  }

  private static JsonObject run(HttpClient http, int promPort, String promql) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + promPort + "/api/v1/query?query="
        + URLEncoder.encode(promql, StandardCharsets.UTF_8))).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    return new JsonObject(r.body());
  }

  /**
   * Every query of the dashboard is valid PromQL for this Prometheus, and every series it names is one
   * the server exports, except those that need what this test does not run (a knowledge-base search,
   * an embedding worker).
   */
  private static void assertDashboardResolves(HttpClient http, int promPort) throws Exception {
    Path dashboard = Path.of(System.getProperty("user.dir")).getParent().resolve("docker/grafana/dashboards/zhiku.json");
    List<String> exprs = new ArrayList<>();
    collectExprs(new JsonObject(Files.readString(dashboard)), exprs);
    assertThat(exprs).hasSizeGreaterThan(30);
    Set<String> names = new HashSet<>();
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + promPort + "/api/v1/label/__name__/values")).build(),
        HttpResponse.BodyHandlers.ofString());
    new JsonObject(r.body()).getJsonArray("data").forEach(n -> names.add((String) n));
    Set<String> notRunHere = Set.of("zhiku_kb_search_duration_seconds_bucket", "zhiku_kb_search_duration_seconds_count",
        "zhiku_worker_embedding_batch_size_bucket");
    Pattern series = Pattern.compile("\\b(zhiku_[a-z0-9_]+|vllm:[a-z0-9_]+|jvm_[a-z0-9_]+|up)\\b");
    for (String expr : exprs) {
      String promql = expr.replace("$model", ".*").replace("$__rate_interval", "1m");
      JsonObject answer = run(http, promPort, promql);
      assertThat(answer.getString("status")).as(promql + " -> " + answer.encode()).isEqualTo("success");
      Matcher m = series.matcher(promql);
      while (m.find()) {
        if (!notRunHere.contains(m.group(1))) {
          assertThat(names).as("series " + m.group(1) + " of the dashboard query " + promql).contains(m.group(1));
        }
      }
    }
    assertThat(exprs).anyMatch(e -> e.contains("vllm:time_to_first_token_seconds_bucket"));
  }

  private static void collectExprs(Object node, List<String> into) {
    if (node instanceof JsonObject o) {
      if (o.getValue("expr") instanceof String e) {
        into.add(e);
      }
      o.forEach(en -> collectExprs(en.getValue(), into));
    } else if (node instanceof JsonArray a) {
      a.forEach(v -> collectExprs(v, into));
    }
  }
}
