package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.worker.HostedModel;
import ai.zhiku.worker.WorkerServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * Overload is answered, never queued without bound: a burst far past a worker's capacity gets
 * only 200 and 429 (the worker's own "queue full"), each within seconds; and a client that does not
 * read its stream pauses the worker's reply instead of piling up in the api-server.
 */
class BackpressureTest {

  /**
   * Capacity 4 running + 120 queued is more than HTTP/2's default 100 streams per connection: with
   * that default the worker never filled its queue, so it never said 429, and the rest waited in
   * the api-server's gRPC client for as long as the queue took to drain.
   */
  @Test
  void aBurstFarPastCapacityGetsOnly200And429WithinABound() throws Exception {
    try (TestCluster c = new TestCluster("shortest_queue", 5000)) {
      ScriptedChatEngine engine = new ScriptedChatEngine("e", 4096, 2);
      c.addWorker(new HostedModel.Chat(List.of("m"), engine), 4, 120);
      c.startApi(List.of(), 1 << 20);
      c.syncTable();
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
      String body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":20}";
      int burst = 600;
      long t0 = System.nanoTime();
      List<CompletableFuture<long[]>> all = new ArrayList<>();
      for (int i = 0; i < burst; i++) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(c.base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
            .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
        all.add(http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).thenApply(r -> {
          if (r.statusCode() == 429) {
            assertThat(r.headers().firstValue("retry-after")).isPresent();
            assertThat(new JsonObject(r.body()).getJsonObject("error").getString("code")).isEqualTo("overloaded");
          }
          return new long[] {r.statusCode(), (System.nanoTime() - t0) / 1_000_000};
        }));
      }
      Map<Long, Integer> statuses = new TreeMap<>();
      long slowest = 0;
      for (CompletableFuture<long[]> f : all) {
        long[] r = f.get();
        statuses.merge(r[0], 1, Integer::sum);
        slowest = Math.max(slowest, r[1]);
      }
      System.out.printf("burst of %d (capacity 124): statuses %s, slowest answer %d ms%n", burst, statuses, slowest);
      assertThat(statuses.keySet()).as("statuses %s", statuses).containsOnly(200L, 429L);
      assertThat(statuses.get(429L)).as("the worker's gate was reached and said so").isGreaterThan(burst / 3);
      assertThat(statuses.get(200L)).isGreaterThanOrEqualTo(124);
      assertThat(slowest).as("every client answered within 10 s").isLessThan(10_000);
      assertThat(c.api.upstream().inFlight().values()).as("no call left open").containsOnly(0);
    }
  }

  /**
   * A raw socket with a tiny receive buffer asks for a long stream with four choices and reads
   * nothing. Once the socket buffers and the api-server's write queue are full, all four of the
   * worker's replies are paused (the api-server's gauge) and the worker holds their output back (its
   * gauge; the engine keeps decoding, the text coalesces in the worker); nothing grows in the
   * api-server. When the client reads again every token arrives, in order, then [DONE].
   */
  @Test
  void aClientThatDoesNotReadPausesTheWorkersReply() throws Exception {
    try (TestCluster c = new TestCluster("shortest_queue", 5000)) {
      ScriptedChatEngine engine = new ScriptedChatEngine("e", 1 << 20, 1);
      WorkerServer worker = c.addWorker(new HostedModel.Chat(List.of("m"), engine), 8, 8);
      c.startApi(List.of(), 1 << 20);
      c.syncTable();
      int n = 4;
      int maxTokens = 15_000;
      String json = "{\"model\":\"m\",\"stream\":true,\"n\":" + n + ",\"max_tokens\":" + maxTokens
          + ",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
      try (Socket s = new Socket()) {
        s.setReceiveBufferSize(4096);
        s.connect(new InetSocketAddress("127.0.0.1", c.apiPort));
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        OutputStream out = s.getOutputStream();
        out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + b.length
            + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(b);
        out.flush();

        long t0 = System.nanoTime();
        long deadline = System.currentTimeMillis() + 25_000;
        while ((c.api.upstream().pausedStreams() < n || worker.throttledStreams() < n) && System.currentTimeMillis() < deadline) {
          Thread.sleep(20);
        }
        long pausedAfter = (System.nanoTime() - t0) / 1_000_000;
        assertThat(c.api.upstream().pausedStreams()).as("api-server streams paused").isEqualTo(n);
        assertThat(worker.throttledStreams()).as("worker streams held back").isEqualTo(n);
        long produced = engine.produced.get();
        Thread.sleep(500);
        assertThat(engine.produced.get()).as("the engine keeps decoding").isGreaterThan(produced);
        assertThat(c.api.upstream().pausedStreams()).as("still paused while the client reads nothing").isEqualTo(n);
        assertThat(engine.produced.get()).as("not finished yet: the reply is held, not dropped").isLessThan((long) n * maxTokens);

        // now read everything: every token of every choice arrives, then [DONE]
        String sse = readChunkedBody(s.getInputStream());
        int[] chars = new int[n];
        String last = null;
        for (String line : sse.split("\n")) {
          if (!line.startsWith("data: ")) {
            continue;
          }
          last = line.substring(6);
          if (last.equals("[DONE]")) {
            continue;
          }
          JsonObject chunk = new JsonObject(last);
          assertThat(chunk.containsKey("error")).as(last).isFalse();
          JsonArray choices = chunk.getJsonArray("choices");
          for (int i = 0; i < choices.size(); i++) {
            JsonObject ch = choices.getJsonObject(i);
            String content = ch.getJsonObject("delta").getString("content");
            if (content != null) {
              chars[ch.getInteger("index")] += content.length();
            }
          }
        }
        assertThat(last).isEqualTo("[DONE]");
        for (int i = 0; i < n; i++) {
          assertThat(chars[i]).as("choice %d", i).isEqualTo(maxTokens);
        }
        System.out.printf("slow reader: %d streams paused after %d ms; %d tokens each arrived once it read%n", n, pausedAfter, maxTokens);
      }
      assertThat(c.api.upstream().pausedStreams()).isZero();
      assertThat(worker.throttledStreams()).isZero();
    }
  }

  /** The body of an HTTP/1.1 chunked response (headers skipped). */
  static String readChunkedBody(InputStream in) throws Exception {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    String line;
    while (!(line = readLine(in)).isEmpty()) {
      assertThat(line).doesNotStartWith("HTTP/1.1 4").doesNotStartWith("HTTP/1.1 5");
    }
    while (true) {
      int size = Integer.parseInt(readLine(in).trim(), 16);
      if (size == 0) {
        break;
      }
      body.write(in.readNBytes(size));
      readLine(in);
    }
    return body.toString(StandardCharsets.UTF_8);
  }

  private static String readLine(InputStream in) throws Exception {
    StringBuilder sb = new StringBuilder();
    int ch;
    while ((ch = in.read()) != -1 && ch != '\n') {
      if (ch != '\r') {
        sb.append((char) ch);
      }
    }
    return sb.toString();
  }
}
