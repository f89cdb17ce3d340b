package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.worker.HostedModel;
import ai.zhiku.worker.WorkerServer;
import io.vertx.core.json.JsonObject;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A client that goes away cancels its generation wherever it is: before dispatch (the api-server
 * is still looking the model up: the test cluster caches nothing, so each request asks the
 * controller), while the gRPC stream is being opened, queued in the worker, and running; for
 * streaming and non-streaming requests, chat and completions, every one of n choices. The engine
 * is slow (a token every 20 ms) and counts the tokens it produced.
 */
class CancellationTest {
  TestCluster cluster;
  ScriptedChatEngine engine;
  WorkerServer worker;

  @BeforeEach
  void start() {
    cluster = new TestCluster("shortest_queue", 5000);
  }

  @AfterEach
  void stop() {
    cluster.close();
  }

  void startWorker(int limit, int queue) {
    engine = new ScriptedChatEngine("slow", 8192, 20);
    worker = cluster.addWorker(new HostedModel.Chat(List.of("slow-chat"), engine), limit, queue);
    cluster.startApi(List.of(), 1 << 20);
  }

  /** The kinds of request a client may leave: streaming or not, chat or completions, n > 1, prompt lists. */
  static String body(int i) {
    String stream = i % 2 == 0 ? "true" : "false";
    return switch (i % 4) {
      case 0, 1 -> "{\"model\":\"slow-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"m" + i + "\"}],\"max_tokens\":300,"
          + "\"stream\":" + stream + (i % 8 < 4 ? ",\"n\":2" : "") + "}";
      default -> "{\"model\":\"slow-chat\",\"prompt\":" + (i % 8 < 4 ? "[\"p" + i + "\",\"q" + i + "\"]" : "\"p" + i + "\"")
          + ",\"max_tokens\":300,\"stream\":" + stream + "}";
    };
  }

  static String path(int i) {
    return i % 4 < 2 ? "/v1/chat/completions" : "/v1/completions";
  }

  /** Opens a raw HTTP/1.1 connection and sends one request on it; the caller closes it. */
  Socket send(String path, String json) throws Exception {
    Socket s = new Socket("127.0.0.1", cluster.apiPort);
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    String head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
        + body.length + "\r\n\r\n";
    OutputStream out = s.getOutputStream();
    out.write(head.getBytes(StandardCharsets.US_ASCII));
    out.write(body);
    out.flush();
    return s;
  }

  /** Closes with a FIN, or with a reset (SO_LINGER 0) as a killed process or a proxy timeout would. */
  static void hangUp(Socket s, boolean reset) throws Exception {
    if (reset) {
      s.setSoLinger(true, 0);
    }
    s.close();
  }

  JsonObject health() throws Exception {
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://" + worker.address() + "/health")).timeout(Duration.ofSeconds(5)).GET().build();
    return new JsonObject(cluster.http.send(req, HttpResponse.BodyHandlers.ofString()).body());
  }

  boolean idle() throws Exception {
    JsonObject h = health();
    return h.getInteger("running") == 0 && h.getInteger("queued") == 0 && engine.active.get() == 0;
  }

  void waitUntil(java.util.concurrent.Callable<Boolean> cond, long ms) throws Exception {
    long deadline = System.currentTimeMillis() + ms;
    while (!cond.call() && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
  }

  @Test
  void clientsThatSendAndCloseAtOnceCostAlmostNoTokens() throws Exception {
    startWorker(8, 64);
    int clients = 50;
    for (int i = 0; i < clients; i++) {
      hangUp(send(path(i), body(i)), i % 3 == 0);
    }
    long closedAt = System.currentTimeMillis();
    Thread.sleep(300); // let whatever was in flight land before judging
    waitUntil(this::idle, 2000 - (System.currentTimeMillis() - closedAt));
    assertThat(idle()).as("worker %s, engine active %d", health(), engine.active.get()).isTrue();
    assertThat(System.currentTimeMillis() - closedAt).isLessThan(2500);
    Thread.sleep(500);
    assertThat(idle()).as("nothing arrives later").isTrue();
    // each of these requests would be 300 tokens per choice (up to 2 choices) if it ran to the end
    assertThat(engine.produced.get()).as("tokens decoded for %d clients that were gone (%d generations submitted)",
        clients, engine.submitted.get()).isLessThan(clients);
  }

  static int generations(int i) {
    return i % 8 < 4 ? 2 : 1;
  }

  /** Which client (socket index) a generation the engine saw came from: its text is m<i>, p<i> or q<i>. */
  static int clientOf(ai.zhiku.common.engine.GenerationRequest r) {
    String text = r.input().isChat() ? r.input().messages().getLast().content() : r.input().prompt();
    return Integer.parseInt(text.substring(1));
  }

  @Test
  void closingCancelsQueuedThenRunningGenerationsOfEveryKind() throws Exception {
    startWorker(4, 64);
    List<Socket> sockets = new ArrayList<>();
    int total = 0;
    for (int i = 0; i < 8; i++) {
      sockets.add(send(path(i), body(i)));
      total += generations(i);
    }
    int expected = total;
    // 4 run, the rest wait in the worker's queue
    waitUntil(() -> {
      JsonObject h = health();
      return h.getInteger("running") + h.getInteger("queued") == expected && engine.active.get() == 4;
    }, 10_000);
    JsonObject before = health();
    assertThat(before.getInteger("running")).as(before.encode()).isEqualTo(4);
    assertThat(before.getInteger("queued")).as(before.encode()).isEqualTo(expected - 4);

    // first the clients none of whose generations run: theirs leave the worker's queue, nothing starts
    java.util.Set<Integer> running = new java.util.HashSet<>();
    engine.requests.forEach(r -> running.add(clientOf(r)));
    int kept = running.stream().mapToInt(CancellationTest::generations).sum();
    for (int i = 0; i < sockets.size(); i++) {
      if (!running.contains(i)) {
        hangUp(sockets.get(i), i % 2 == 1);
      }
    }
    waitUntil(() -> health().getInteger("queued") == kept - 4, 2000);
    JsonObject mid = health();
    assertThat(mid.getInteger("queued")).as(mid.encode()).isEqualTo(kept - 4);
    assertThat(mid.getInteger("running")).as(mid.encode()).isEqualTo(4);
    assertThat(engine.submitted.get()).as("a withdrawn request frees no slot").isEqualTo(4);

    // then the running ones (and whatever of theirs still waits)
    Thread.sleep(100);
    long producedAtClose = engine.produced.get();
    assertThat(producedAtClose).as("they were decoding").isPositive();
    for (int i : running) {
      hangUp(sockets.get(i), i % 2 == 0);
    }
    waitUntil(this::idle, 2000);
    assertThat(idle()).as("worker %s, engine active %d", health(), engine.active.get()).isTrue();
    assertThat(engine.cancelled.get()).as("every generation that started was cancelled, none finished").isEqualTo(engine.submitted.get());
    Thread.sleep(300);
    // at most a handful of 20 ms steps pass before each close is seen
    assertThat(engine.produced.get() - producedAtClose).isLessThan(40);
    // the worker serves the next client at once
    HttpResponse<String> r = cluster.post("/v1/chat/completions", "{\"model\":\"slow-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":2}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }
}
