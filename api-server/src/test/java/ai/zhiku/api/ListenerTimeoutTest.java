package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.ListenerTimeouts;
import ai.zhiku.controller.ControllerConfig;
import ai.zhiku.controller.ControllerServer;
import ai.zhiku.worker.HostedModel;
import ai.zhiku.worker.WorkerServer;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Header, body and idle timeouts on every listener, tried with raw sockets: the api-server's HTTP
 * port, a worker's and a controller's gRPC ports. Timeouts here are short (header 1 s, body 1.5 s,
 * idle 2 s; the defaults are 10, 30 and 90 s); a long generation is never cut by them.
 */
class ListenerTimeoutTest {
  static final ListenerTimeouts SHORT = new ListenerTimeouts(1000, 1500, 2000);
  static TestCluster cluster;
  static WorkerServer worker;
  static ControllerServer controller;
  static int controllerPort;

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000);
    worker = cluster.addWorker(new HostedModel.Chat(List.of("m"), new ScriptedChatEngine("e", 4096, 50)), 4, 4,
        c -> c.withTimeouts(SHORT));
    ApiServerConfig config = new ApiServerConfig("127.0.0.1", 0, cluster.controllerAddress(), List.of(), List.of(), 1 << 20, 8 << 20,
        200, null, 2, "bge-small-zh-v1.5").withTimeouts(SHORT);
    cluster.api = new ApiServer(cluster.vertx, config, null);
    cluster.apiPort = TestCluster.await(cluster.api.start());
    controller = new ControllerServer(cluster.vertx, new ControllerConfig("127.0.0.1", 0, 5000, "shortest_queue", SHORT));
    controllerPort = TestCluster.await(controller.start());
  }

  @AfterAll
  static void stop() {
    TestCluster.await(controller.close());
    cluster.close();
  }

  static int workerPort() {
    return Integer.parseInt(worker.address().substring(worker.address().lastIndexOf(':') + 1));
  }

  /** Reads until the server closes; returns what it sent and how long that took (ms), or fails after {@code maxMs}. */
  static Object[] readUntilClosed(Socket s, long maxMs) throws Exception {
    long t0 = System.nanoTime();
    s.setSoTimeout(200);
    InputStream in = s.getInputStream();
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    byte[] buf = new byte[4096];
    while (true) {
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertThat(ms).as("closed by the server within %d ms; got so far: %s", maxMs, got.toString(StandardCharsets.UTF_8)).isLessThan(maxMs);
      try {
        int n = in.read(buf);
        if (n < 0) {
          return new Object[] {got.toString(StandardCharsets.UTF_8), (System.nanoTime() - t0) / 1_000_000};
        }
        got.write(buf, 0, n);
      } catch (SocketTimeoutException e) {
        // keep waiting
      } catch (java.net.SocketException reset) {
        return new Object[] {got.toString(StandardCharsets.UTF_8), (System.nanoTime() - t0) / 1_000_000};
      }
    }
  }

  /** Sends a request head one header line at a time, every 300 ms, until the server closes. */
  static long slowHeaders(int port) throws Exception {
    try (Socket s = new Socket("127.0.0.1", port)) {
      OutputStream out = s.getOutputStream();
      out.write("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Thread trickle = Thread.ofVirtual().start(() -> {
        try {
          for (int i = 0; i < 100; i++) {
            Thread.sleep(300);
            out.write(("X-Slow-" + i + ": y\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
          }
        } catch (Exception closed) {
          // the server closed: done
        }
      });
      Object[] r = readUntilClosed(s, 5000);
      trickle.interrupt();
      return (long) r[1];
    }
  }

  /** Announces a 50 MB body, sends 2 bytes, waits. */
  static Object[] bigContentLengthTinyBody(int port, String path, int contentLength) throws Exception {
    try (Socket s = new Socket("127.0.0.1", port)) {
      OutputStream out = s.getOutputStream();
      out.write(("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + contentLength + "\r\n\r\n{}")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      return readUntilClosed(s, 6000);
    }
  }

  static long silent(int port) throws Exception {
    try (Socket s = new Socket("127.0.0.1", port)) {
      return (long) readUntilClosed(s, 5000)[1];
    }
  }

  @Test
  void slowHeadersAreClosedByTheHeaderTimeout() throws Exception {
    long ms = slowHeaders(cluster.apiPort);
    System.out.printf("api-server: slow headers (a line every 300 ms) closed after %d ms (header timeout 1 s)%n", ms);
    assertThat(ms).isBetween(900L, 3000L);
  }

  /**
   * On the gRPC ports Vert.x hands a connection over only once its first request head is complete
   * (cleartext HTTP/2 is on there), so a head that stops halfway, or never starts, is closed by the
   * byte-level idle timeout (2 s here) instead of the header timeout. A head that keeps trickling
   * there is not cut before it reaches the header size limit (RELIABILITY.md).
   */
  @Test
  void aSilentOrHalfSentHeadIsClosedOnEveryListener() throws Exception {
    for (int port : new int[] {cluster.apiPort, workerPort(), controllerPort}) {
      long silentMs = silent(port);
      long halfMs;
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        halfMs = (long) readUntilClosed(s, 5000)[1];
      }
      System.out.printf("port %d: silent connection closed after %d ms, half-sent head after %d ms%n", port, silentMs, halfMs);
      assertThat(silentMs).isBetween(900L, 3500L);
      assertThat(halfMs).isBetween(900L, 3500L);
    }
  }

  @Test
  void a50MbContentLengthIs413AtOnceAndTheConnectionIsClosed() throws Exception {
    Object[] r = bigContentLengthTinyBody(cluster.apiPort, "/v1/chat/completions", 50 << 20);
    String response = (String) r[0];
    System.out.printf("Content-Length 50 MB with a 2-byte body: %s, closed after %d ms%n", response.lines().findFirst().orElse(""), r[1]);
    assertThat(response).startsWith("HTTP/1.1 413");
    assertThat(new JsonObject(response.substring(response.indexOf("\r\n\r\n") + 4)).getJsonObject("error").getString("message"))
        .contains("1048576 bytes");
    assertThat((long) r[1]).isLessThan(4500L);
  }

  @Test
  void aBodyThatNeverArrivesIs408AndClosed() throws Exception {
    Object[] r = bigContentLengthTinyBody(cluster.apiPort, "/v1/chat/completions", 500_000);
    String response = (String) r[0];
    System.out.printf("Content-Length 500 KB with a 2-byte body: %s, closed after %d ms%n", response.lines().findFirst().orElse(""), r[1]);
    assertThat(response).startsWith("HTTP/1.1 408");
    JsonObject error = new JsonObject(response.substring(response.indexOf("\r\n\r\n") + 4)).getJsonObject("error");
    assertThat(error.getString("code")).isEqualTo("request_timeout");
    assertThat(error.getString("message")).contains("1.5 s");
    assertThat((long) r[1]).isBetween(1400L, 4000L);
  }

  @Test
  void aBodyThatNeverArrivesIsClosedOnTheGrpcPorts() throws Exception {
    for (int port : new int[] {workerPort(), controllerPort}) {
      Object[] r = bigContentLengthTinyBody(port, "/health", 50 << 20);
      System.out.printf("Content-Length 50 MB with a 2-byte body on port %d: closed after %d ms%n", port, r[1]);
      assertThat((long) r[1]).isLessThan(4500L);
    }
  }

  @Test
  void anIdleKeepAliveConnectionIsClosed() throws Exception {
    try (Socket s = new Socket("127.0.0.1", cluster.apiPort)) {
      s.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      Object[] r = readUntilClosed(s, 5000);
      assertThat((String) r[0]).startsWith("HTTP/1.1 200");
      assertThat((long) r[1]).isBetween(1800L, 4000L);
    }
  }

  /** A generation that sends nothing for 3 s (longer than every timeout) is not cut. */
  @Test
  void aLongGenerationIsNotCut() throws Exception {
    HttpResponse<String> r = cluster.post("/v1/chat/completions",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":60}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(new JsonObject(r.body()).getJsonArray("choices").getJsonObject(0).getJsonObject("message").getString("content")).hasSize(60);
  }

  @Test
  void overlongRequestLineAndHeadersGetOpenAiErrorsNamingTheLimit() throws Exception {
    try (Socket s = new Socket("127.0.0.1", cluster.apiPort)) {
      s.getOutputStream().write(("GET /v1/models?q=" + "a".repeat(5000) + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      String resp = (String) readUntilClosed(s, 5000)[0];
      assertThat(resp).matches("(?s)HTTP/1\\.[01] 414.*");
      JsonObject e = new JsonObject(resp.substring(resp.indexOf("\r\n\r\n") + 4)).getJsonObject("error");
      assertThat(e.getString("message")).contains("4096 bytes");
      assertThat(e.getString("type")).isEqualTo("invalid_request_error");
      assertThat(e.getString("code")).isEqualTo("request_line_too_long");
    }
    try (Socket s = new Socket("127.0.0.1", cluster.apiPort)) {
      s.getOutputStream().write(("GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(9000) + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      String resp = (String) readUntilClosed(s, 5000)[0];
      assertThat(resp).startsWith("HTTP/1.1 431");
      JsonObject e = new JsonObject(resp.substring(resp.indexOf("\r\n\r\n") + 4)).getJsonObject("error");
      assertThat(e.getString("message")).contains("8192 bytes");
      assertThat(e.getString("code")).isEqualTo("request_headers_too_large");
    }
  }
}
