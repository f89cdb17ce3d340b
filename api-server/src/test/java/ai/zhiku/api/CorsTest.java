package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * --allowed-origins on real api-servers: unset (own origin and localhost pages only), an explicit list,
 * and an explicit {@code *}. Requests go over a raw socket so the test chooses the Host header, which
 * is what the server's "own origin" is.
 */
class CorsTest {
  static TestCluster cluster;
  static ApiServer byDefault;
  static ApiServer listed;
  static ApiServer any;
  static int defaultPort;
  static int listedPort;
  static int anyPort;

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000);
    byDefault = api(List.of());
    defaultPort = TestCluster.await(byDefault.start());
    listed = api(List.of("https://app.example.com"));
    listedPort = TestCluster.await(listed.start());
    any = api(List.of("*"));
    anyPort = TestCluster.await(any.start());
  }

  static ApiServer api(List<String> origins) {
    return new ApiServer(cluster.vertx, new ApiServerConfig("127.0.0.1", 0, cluster.controllerAddress(), List.of(), origins,
        1 << 20, 8 << 20, 200, null, 2, "bge-small-zh-v1.5"), null);
  }

  @AfterAll
  static void stop() {
    for (ApiServer a : List.of(byDefault, listed, any)) {
      TestCluster.await(a.close());
    }
    cluster.close();
  }

  record Reply(int status, Map<String, String> headers, String body) {
    String header(String name) {
      return headers.get(name);
    }
  }

  /** One HTTP/1.1 request with the given Host and Origin; a preflight when {@code preflight}. */
  static Reply send(int port, String host, String origin, boolean preflight) throws Exception {
    StringBuilder head = new StringBuilder(preflight ? "OPTIONS" : "GET").append(" /v1/models HTTP/1.1\r\n")
        .append("host: ").append(host).append("\r\nconnection: close\r\n");
    if (origin != null) {
      head.append("origin: ").append(origin).append("\r\n");
    }
    if (preflight) {
      head.append("access-control-request-method: POST\r\naccess-control-request-headers: authorization, content-type, x-stainless-os\r\n");
    }
    head.append("\r\n");
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      in.transferTo(all);
      String text = all.toString(StandardCharsets.UTF_8);
      int split = text.indexOf("\r\n\r\n");
      String[] lines = text.substring(0, split).split("\r\n");
      Map<String, String> headers = new LinkedHashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
      }
      String body = text.substring(split + 4);
      if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
        body = body.substring(body.indexOf("\r\n") + 2, body.lastIndexOf("\r\n0\r\n"));
      }
      return new Reply(Integer.parseInt(lines[0].split(" ")[1]), headers, body);
    }
  }

  static void assertRefused(Reply r) {
    assertThat(r.status()).as(r.body()).isEqualTo(403);
    assertThat(r.header("access-control-allow-origin")).isNull();
    assertThat(r.header("access-control-allow-methods")).isNull();
    JsonObject error = new JsonObject(r.body()).getJsonObject("error");
    assertThat(error.getString("type")).isEqualTo("invalid_request_error");
    assertThat(error.getString("code")).isEqualTo("origin_not_allowed");
    assertThat(error.getString("message")).contains("--allowed-origins");
    assertThat(error.containsKey("param")).isTrue();
  }

  @Test
  void byDefaultAnotherOriginIsRefused() throws Exception {
    assertRefused(send(defaultPort, "127.0.0.1:" + defaultPort, "https://evil.example", true));
    assertRefused(send(defaultPort, "127.0.0.1:" + defaultPort, "https://evil.example", false));
    // a name that only starts like localhost is another site
    assertRefused(send(defaultPort, "127.0.0.1:" + defaultPort, "http://localhost.evil.example", true));
  }

  @Test
  void byDefaultLocalPagesAreAllowed() throws Exception {
    for (String origin : List.of("http://localhost:3000", "https://localhost", "http://127.0.0.1:5173", "http://[::1]:8080")) {
      Reply pre = send(defaultPort, "127.0.0.1:" + defaultPort, origin, true);
      assertThat(pre.status()).as(origin).isEqualTo(204);
      assertThat(pre.header("access-control-allow-origin")).as(origin).isEqualTo(origin);
      assertThat(pre.header("access-control-allow-methods")).contains("POST");
      assertThat(pre.header("access-control-allow-headers")).contains("authorization").contains("x-stainless-os");
      Reply plain = send(defaultPort, "127.0.0.1:" + defaultPort, origin, false);
      assertThat(plain.status()).as(plain.body()).isEqualTo(200);
      assertThat(plain.header("access-control-allow-origin")).isEqualTo(origin);
      assertThat(plain.body()).contains("\"object\":\"list\"");
    }
  }

  @Test
  void theServersOwnOriginIsAllowedUnderAnyPolicy() throws Exception {
    // the server reached under a name that is not local: its own pages come with that origin
    for (int port : List.of(defaultPort, listedPort)) {
      Reply own = send(port, "zhiku.internal:" + port, "http://zhiku.internal:" + port, false);
      assertThat(own.status()).as(own.body()).isEqualTo(200);
      assertThat(own.header("access-control-allow-origin")).isEqualTo("http://zhiku.internal:" + port);
      // the same origin calling a server it is not: refused
      assertRefused(send(port, "other.internal:" + port, "http://zhiku.internal:" + port, false));
    }
  }

  @Test
  void requestsWithoutAnOriginAreNotCorsAtAll() throws Exception {
    Reply r = send(defaultPort, "127.0.0.1:" + defaultPort, null, false);
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.header("access-control-allow-origin")).isNull();
  }

  @Test
  void anExplicitListAllowsItsOriginsAndNotLocalPages() throws Exception {
    Reply pre = send(listedPort, "127.0.0.1:" + listedPort, "https://app.example.com", true);
    assertThat(pre.status()).isEqualTo(204);
    assertThat(pre.header("access-control-allow-origin")).isEqualTo("https://app.example.com");
    assertRefused(send(listedPort, "127.0.0.1:" + listedPort, "http://localhost:3000", true));
    assertRefused(send(listedPort, "127.0.0.1:" + listedPort, "https://evil.example", false));
  }

  @Test
  void anExplicitStarAllowsEveryOrigin() throws Exception {
    for (String origin : List.of("https://evil.example", "http://localhost:3000")) {
      Reply pre = send(anyPort, "127.0.0.1:" + anyPort, origin, true);
      assertThat(pre.status()).isEqualTo(204);
      assertThat(pre.header("access-control-allow-origin")).isEqualTo("*");
      Reply plain = send(anyPort, "127.0.0.1:" + anyPort, origin, false);
      assertThat(plain.status()).isEqualTo(200);
      assertThat(plain.header("access-control-allow-origin")).isEqualTo("*");
    }
  }
}
