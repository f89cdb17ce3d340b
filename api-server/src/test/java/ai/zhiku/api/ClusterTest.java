package ai.zhiku.api;

import static ai.zhiku.api.SpineTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.worker.HostedModel;
import ai.zhiku.worker.WorkerServer;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Registration, expiry, dispatch policies, retry, auth and overload across real processes' servers. */
class ClusterTest {

  private static final String CHAT = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":2}";

  private static void waitFor(java.util.function.BooleanSupplier cond, long ms) throws InterruptedException {
    long deadline = System.currentTimeMillis() + ms;
    while (!cond.getAsBoolean() && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
  }

  @Test
  void workersRegisterAndAKilledWorkerExpires() throws Exception {
    try (TestCluster c = new TestCluster("shortest_queue", 800)) {
      c.addWorker(new HostedModel.Chat(List.of("m"), new ScriptedChatEngine("a", 256, 1)), 4, 4);
      WorkerServer b = c.addWorker(new HostedModel.Chat(List.of("m", "m-alias"), new ScriptedChatEngine("b", 256, 1)), 4, 4);
      c.startApi(List.of(), 1 << 20);
      assertThat(c.controller.registry().size()).isEqualTo(2);
      HttpResponse<String> models = c.get("/v1/models");
      assertThat(models.body()).contains("\"m\"").contains("\"m-alias\"");

      TestCluster.await(b.kill());
      c.workers.remove(b);
      waitFor(() -> c.controller.registry().size() == 1, 5000);
      assertThat(c.controller.registry().size()).isEqualTo(1);
      c.syncTable(); // the api-server's own table follows within one poll
      assertThat(c.get("/v1/models").body()).doesNotContain("m-alias");
      // served a moment ago: 503 with Retry-After (clients retry), not 404 (they would give up)
      HttpResponse<String> gone = c.post("/v1/chat/completions", CHAT.replace("\"m\"", "\"m-alias\""));
      assertError(gone, 503, null, "service_unavailable");
      assertThat(gone.headers().firstValue("retry-after")).isPresent();
      assertThat(new JsonObject(gone.body()).getJsonObject("error").getString("message")).contains("m-alias").contains("no live worker");
      // never served: 404
      assertError(c.post("/v1/chat/completions", CHAT.replace("\"m\"", "\"never-served\"")), 404, "model", "model_not_found");
      assertThat(c.post("/v1/chat/completions", CHAT).statusCode()).isEqualTo(200);
    }
  }

  /**
   * An engine that can serve no more makes its worker unhealthy within one heartbeat: /health
   * answers 503 with the reason, the worker leaves the controller, and requests go to the other
   * worker of the model.
   */
  @Test
  void aFailedEngineTakesItsWorkerOutOfRotationWithinOneHeartbeat() throws Exception {
    try (TestCluster c = new TestCluster("shortest_queue", 5000)) {
      ScriptedChatEngine bad = new ScriptedChatEngine("bad", 256, 1);
      ScriptedChatEngine good = new ScriptedChatEngine("good", 256, 1);
      WorkerServer failing = c.addWorker(new HostedModel.Chat(List.of("m"), bad), 4, 4);
      c.addWorker(new HostedModel.Chat(List.of("m"), good), 4, 4);
      c.startApi(List.of(), 1 << 20);
      boolean[] told = new boolean[1];
      failing.onEngineFailure(() -> told[0] = true);
      String health = "http://" + failing.address() + "/health";
      java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
      assertThat(http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(health)).build(),
          HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
      long t0 = System.nanoTime();
      bad.failure = "the engine thread failed: java.lang.OutOfMemoryError: no native memory for attention scores";
      waitFor(() -> c.controller.registry().size() == 1, 2000);
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertThat(c.controller.registry().size()).as("workers after %d ms", ms).isEqualTo(1);
      assertThat(ms).as("heartbeat interval is 200 ms").isLessThan(1000);
      HttpResponse<String> h = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(health)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(h.statusCode()).isEqualTo(503);
      assertThat(h.body()).contains("\"status\":\"unhealthy\"").contains("OutOfMemoryError");
      assertThat(http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://" + failing.address() + "/health/live")).build(),
          HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
      assertThat(told[0]).isTrue();
      int before = bad.submitted.get();
      for (int i = 0; i < 6; i++) assertThat(c.post("/v1/chat/completions", CHAT).statusCode()).isEqualTo(200);
      assertThat(bad.submitted.get()).isEqualTo(before);
      assertThat(good.submitted.get()).isGreaterThanOrEqualTo(6);
    }
  }

  @Test
  void aRestartedControllerIsRepopulatedByHeartbeats() throws Exception {
    try (TestCluster c = new TestCluster("lottery", 5000)) {
      c.addWorker(new HostedModel.Chat(List.of("m"), new ScriptedChatEngine("a", 256, 1)), 4, 4);
      assertThat(c.controller.registry().size()).isEqualTo(1);
      // the controller forgets everything, as after a restart
      c.controller.registry().deregister(c.workers.getFirst().address());
      waitFor(() -> c.controller.registry().size() == 1, 3000);
      assertThat(c.controller.registry().size()).isEqualTo(1);
    }
  }

  private static int[] spread(String policy) throws Exception {
    try (TestCluster c = new TestCluster(policy, 5000)) {
      ScriptedChatEngine a = new ScriptedChatEngine("a", 256, 5);
      ScriptedChatEngine b = new ScriptedChatEngine("b", 256, 5);
      c.addWorker(new HostedModel.Chat(List.of("m"), a), 16, 16);
      c.addWorker(new HostedModel.Chat(List.of("m"), b), 16, 16);
      c.startApi(List.of(), 1 << 20);
      List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        all.add(SpineTest.postAsync(c, "/v1/chat/completions", CHAT));
      }
      for (CompletableFuture<HttpResponse<String>> f : all) {
        assertThat(f.get().statusCode()).isEqualTo(200);
      }
      return new int[] {a.submitted.get(), b.submitted.get()};
    }
  }

  @Test
  void lotterySpreadsRequestsOverWorkers() throws Exception {
    int[] n = spread("lottery");
    assertThat(n[0] + n[1]).isEqualTo(40);
    assertThat(n[0]).isBetween(5, 35);
    assertThat(n[1]).isBetween(5, 35);
  }

  @Test
  void shortestQueueBalancesABurst() throws Exception {
    int[] n = spread("shortest_queue");
    assertThat(n[0] + n[1]).isEqualTo(40);
    // the controller counts each pick into the queue at once, so a burst alternates
    assertThat(Math.abs(n[0] - n[1])).isLessThanOrEqualTo(4);
  }

  @Test
  void anUnreachableWorkerIsSkippedBeforeAnyTokenIsSent() throws Exception {
    try (TestCluster c = new TestCluster("lottery", 60_000)) {
      ScriptedChatEngine live = new ScriptedChatEngine("live", 256, 1);
      WorkerServer dead = c.addWorker(new HostedModel.Chat(List.of("m"), new ScriptedChatEngine("dead", 256, 1)), 4, 4);
      c.addWorker(new HostedModel.Chat(List.of("m"), live), 4, 4);
      c.startApi(List.of(), 1 << 20);
      TestCluster.await(dead.kill()); // still registered: expiry is a minute away
      c.workers.remove(dead);
      for (int i = 0; i < 10; i++) {
        HttpResponse<String> r = c.post("/v1/chat/completions", CHAT);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.body()).contains("\"content\":\"li\"");
        HttpResponse<String> s = c.post("/v1/chat/completions", CHAT.replace("}", ",\"stream\":true}").replace("]},\"stream", "],\"stream"));
        assertThat(s.body()).contains("[DONE]").doesNotContain("\"error\"");
      }
      assertThat(live.submitted.get()).isEqualTo(20);
    }
  }

  @Test
  void noLiveWorkerIs503() throws Exception {
    try (TestCluster c = new TestCluster("lottery", 60_000)) {
      WorkerServer only = c.addWorker(new HostedModel.Chat(List.of("m"), new ScriptedChatEngine("a", 256, 1)), 4, 4);
      c.startApi(List.of(), 1 << 20);
      TestCluster.await(only.kill());
      c.workers.remove(only);
      HttpResponse<String> r = c.post("/v1/chat/completions", CHAT);
      assertError(r, 503, null, null);
      assertThat(r.headers().firstValue("retry-after")).isPresent();
    }
  }

  @Test
  void apiKeysAreRequiredWhenConfigured() throws Exception {
    try (TestCluster c = new TestCluster("lottery", 5000)) {
      c.addWorker(new HostedModel.Chat(List.of("m"), new ScriptedChatEngine("a", 256, 1)), 4, 4);
      c.startApi(List.of("sk-one", "sk-two"), 1 << 20);
      double failuresBefore = authFailures(c); // the registry is shared by every test class in this JVM
      assertError(c.get("/v1/models"), 401, null, "invalid_api_key");
      assertError(c.post("/v1/chat/completions", CHAT, "authorization", "Bearer sk-wrong"), 401, null, "invalid_api_key");
      assertThat(c.get("/v1/models", "authorization", "Bearer sk-two").statusCode()).isEqualTo(200);
      assertThat(c.post("/v1/chat/completions", CHAT, "authorization", "Bearer sk-one").statusCode()).isEqualTo(200);
      assertThat(c.get("/health").statusCode()).isEqualTo(200);
      assertThat(authFailures(c) - failuresBefore).isEqualTo(2.0);
    }
  }

  private static double authFailures(TestCluster c) throws Exception {
    return c.get("/metrics", "authorization", "Bearer sk-one").body().lines().filter(l -> l.startsWith("zhiku_auth_failures_total "))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.indexOf(' ') + 1))).findFirst().orElse(0);
  }

  @Test
  void overloadIs429WithAReason() throws Exception {
    try (TestCluster c = new TestCluster("lottery", 5000)) {
      ScriptedChatEngine slow = new ScriptedChatEngine("slow", 4096, 20);
      c.addWorker(new HostedModel.Chat(List.of("m"), slow), 1, 1);
      c.startApi(List.of(), 1 << 20);
      String longRun = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":40}";
      List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        all.add(SpineTest.postAsync(c, "/v1/chat/completions", longRun));
      }
      int ok = 0;
      int refused = 0;
      for (CompletableFuture<HttpResponse<String>> f : all) {
        HttpResponse<String> r = f.get();
        if (r.statusCode() == 200) {
          ok++;
        } else {
          assertError(r, 429, null, "overloaded");
          assertThat(new JsonObject(r.body()).getJsonObject("error").getString("message")).contains("concurrency limit");
          refused++;
        }
      }
      assertThat(ok).isEqualTo(2); // one running, one queued
      assertThat(refused).isEqualTo(2);
    }
  }

  @Test
  void databaseDownMeans503ForKnowledgeBasesWhileChatKeepsWorking() throws Exception {
    try (TestCluster c = new TestCluster("lottery", 5000)) {
      c.addWorker(new HostedModel.Chat(List.of("m"), new ScriptedChatEngine("a", 256, 1)), 4, 4);
      // nothing listens on port 1: the knowledge-base database is down
      c.startApi(List.of(), 1 << 20, "jdbc:postgresql://127.0.0.1:1/zhiku?user=zhiku");
      HttpResponse<String> list = c.get("/v1/knowledge_bases");
      assertError(list, 503, null, null);
      assertThat(list.headers().firstValue("retry-after")).isPresent();
      assertError(c.post("/v1/chat/completions", CHAT.replace("\"max_tokens\":2", "\"max_tokens\":2,\"knowledge_base\":\"docs\"")), 503, null, null);
      assertThat(c.post("/v1/chat/completions", CHAT).statusCode()).isEqualTo(200);
    }
  }

  @Test
  void aWorkerShuttingDownDeregistersFirstAndFinishesItsStreams() throws Exception {
    try (TestCluster c = new TestCluster("lottery", 60_000)) {
      ScriptedChatEngine slow = new ScriptedChatEngine("slow", 4096, 10);
      WorkerServer w = c.addWorker(new HostedModel.Chat(List.of("m"), slow), 4, 4);
      c.startApi(List.of(), 1 << 20);
      CompletableFuture<HttpResponse<String>> stream = SpineTest.postAsync(c, "/v1/chat/completions",
          "{\"model\":\"m\",\"stream\":true,\"max_tokens\":40,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
      waitFor(() -> slow.active.get() == 1, 5000);
      io.vertx.core.Future<Void> closing = w.close();
      waitFor(() -> c.controller.registry().size() == 0, 2000);
      assertThat(c.controller.registry().size()).as("deregistered before the stream ended").isZero();
      assertThat(slow.active.get()).as("the running stream is still going").isEqualTo(1);
      HttpResponse<String> r = stream.get();
      TestCluster.await(closing);
      c.workers.remove(w);
      List<String> events = SpineTest.sse(r.body());
      assertThat(events.getLast()).isEqualTo("[DONE]");
      assertThat(r.body()).contains("\"finish_reason\":\"length\"").doesNotContain("\"error\"");
      assertThat(slow.cancelled.get()).isZero();
    }
  }
}
