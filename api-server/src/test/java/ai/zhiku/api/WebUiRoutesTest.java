package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The web UI's routes on a server with API keys and CORS limited to another site: the page and its
 * assets load without a key, the page's own (same-origin) requests pass CORS, other origins do not,
 * and /v1 still needs the key. The UI itself is tested in a browser by the launcher's WebUiBrowserTest.
 */
class WebUiRoutesTest {
  static TestCluster cluster;
  static ApiServer api;
  static int port;
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000);
    ApiServerConfig config = new ApiServerConfig("127.0.0.1", 0, cluster.controllerAddress(), List.of("sk-ui"),
        List.of("https://example.com"), 1 << 20, 8 << 20, 200, null, 2, "bge-small-zh-v1.5");
    api = new ApiServer(cluster.vertx, config, null);
    port = TestCluster.await(api.start());
  }

  @AfterAll
  static void stop() {
    TestCluster.await(api.close());
    cluster.close();
  }

  static HttpResponse<String> get(String path, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10));
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void pageAndAssetsLoadWithoutAKey() throws Exception {
    HttpResponse<String> page = get("/");
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("content-type").orElse("")).startsWith("text/html");
    assertThat(page.body()).contains("/assets/app.js");
    for (String asset : List.of("app.js", "api.js", "chat.js", "kb.js", "md.js", "i18n.js", "dom.js", "style.css")) {
      // module scripts come with the page's own Origin
      HttpResponse<String> r = get("/assets/" + asset, "origin", "http://127.0.0.1:" + port);
      assertThat(r.statusCode()).as(asset).isEqualTo(200);
      assertThat(r.body()).as(asset).isNotBlank();
    }
    assertThat(get("/assets/missing.js").statusCode()).isEqualTo(404);
    assertThat(get("/assets/../webui/index.html").statusCode()).isEqualTo(404);
  }

  @Test
  void theApiStillNeedsTheKeyAndCorsStillGuardsOtherOrigins() throws Exception {
    HttpResponse<String> noKey = get("/v1/models", "origin", "http://127.0.0.1:" + port);
    assertThat(noKey.statusCode()).as(noKey.body()).isEqualTo(401);
    assertThat(noKey.body()).contains("invalid_api_key");
    assertThat(get("/v1/models", "origin", "https://evil.example", "authorization", "Bearer sk-ui").statusCode()).isEqualTo(403);
    HttpResponse<String> allowed = get("/v1/models", "origin", "https://example.com", "authorization", "Bearer sk-ui");
    assertThat(allowed.statusCode()).as(allowed.body()).isEqualTo(200);
    assertThat(allowed.headers().firstValue("access-control-allow-origin")).hasValue("https://example.com");
    HttpResponse<String> self = get("/v1/models", "origin", "http://127.0.0.1:" + port, "authorization", "Bearer sk-ui");
    assertThat(self.statusCode()).as(self.body()).isEqualTo(200);
    // an unknown /v1 URL is still the API's JSON 404, not a page
    HttpResponse<String> unknown = get("/v1/nope", "authorization", "Bearer sk-ui");
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(unknown.body()).contains("unknown_url");
  }
}
