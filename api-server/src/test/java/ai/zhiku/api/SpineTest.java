package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.worker.HostedModel;
import ai.zhiku.worker.WorkerServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The OpenAI surface end to end: api-server → controller → worker over real gRPC, with a scripted chat engine. */
class SpineTest {
  static TestCluster cluster;
  static ScriptedChatEngine engine;

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000);
    engine = new ScriptedChatEngine("tiny", 256, 1);
    cluster.addWorker(new HostedModel.Chat(List.of("tiny-chat"), engine), 8, 8);
    cluster.startApi(List.of(), 64 * 1024);
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  static JsonObject json(HttpResponse<String> r) {
    return new JsonObject(r.body());
  }

  @Test
  void listsModelsFromTheController() throws Exception {
    HttpResponse<String> r = cluster.get("/v1/models");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonObject body = json(r);
    assertThat(body.getString("object")).isEqualTo("list");
    JsonObject model = body.getJsonArray("data").getJsonObject(0);
    assertThat(model.getString("id")).isEqualTo("tiny-chat");
    assertThat(model.getString("object")).isEqualTo("model");
    assertThat(model.getString("owned_by")).isNotBlank();
  }

  @Test
  void chatCompletionHasOpenAiShape() throws Exception {
    HttpResponse<String> r = cluster.post("/v1/chat/completions", """
        {"model":"tiny-chat","messages":[{"role":"system","content":"be brief"},
         {"role":"user","content":[{"type":"text","text":"你好"}]}],"max_tokens":5,"temperature":0.2,"unknown_field":1}""");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonObject body = json(r);
    assertThat(body.getString("object")).isEqualTo("chat.completion");
    assertThat(body.getString("id")).startsWith("chatcmpl-");
    JsonObject choice = body.getJsonArray("choices").getJsonObject(0);
    assertThat(choice.getJsonObject("message").getString("role")).isEqualTo("assistant");
    assertThat(choice.getJsonObject("message").getString("content")).isEqualTo("tiny:");
    assertThat(choice.getString("finish_reason")).isEqualTo("length");
    JsonObject usage = body.getJsonObject("usage");
    assertThat(usage.getInteger("completion_tokens")).isEqualTo(5);
    assertThat(usage.getInteger("prompt_tokens")).isEqualTo("system:be brief\nuser:你好\n".length());
    assertThat(usage.getInteger("total_tokens")).isEqualTo(usage.getInteger("prompt_tokens") + 5);
    // the sampling parameters reached the engine
    assertThat(engine.requests.getLast().sampling().temperature()).isEqualTo(0.2f);
  }

  @Test
  void stopStringEndsWithStop() throws Exception {
    HttpResponse<String> r = cluster.post("/v1/chat/completions", """
        {"model":"tiny-chat","messages":[{"role":"user","content":"abc"}],"max_tokens":50,"stop":["b"]}""");
    JsonObject choice = json(r).getJsonArray("choices").getJsonObject(0);
    assertThat(choice.getJsonObject("message").getString("content")).isEqualTo("tiny:a");
    assertThat(choice.getString("finish_reason")).isEqualTo("stop");
  }

  @Test
  void nChoicesAreIndexed() throws Exception {
    HttpResponse<String> r = cluster.post("/v1/chat/completions", """
        {"model":"tiny-chat","messages":[{"role":"user","content":"x"}],"max_tokens":3,"n":3}""");
    JsonArray choices = json(r).getJsonArray("choices");
    assertThat(choices).hasSize(3);
    for (int i = 0; i < 3; i++) {
      assertThat(choices.getJsonObject(i).getInteger("index")).isEqualTo(i);
    }
    assertThat(json(r).getJsonObject("usage").getInteger("completion_tokens")).isEqualTo(9);
  }

  /** Reads an SSE body into its data payloads. */
  static List<String> sse(String body) {
    List<String> out = new ArrayList<>();
    for (String event : body.split("\n\n")) {
      if (event.startsWith("data: ")) {
        out.add(event.substring(6));
      }
    }
    return out;
  }

  @Test
  void streamingChatSendsRoleFirstFinishLastThenDone() throws Exception {
    HttpResponse<String> r = cluster.post("/v1/chat/completions", """
        {"model":"tiny-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":7,"stream":true,
         "stream_options":{"include_usage":true}}""");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
    List<String> events = sse(r.body());
    assertThat(events.getLast()).isEqualTo("[DONE]");
    JsonObject first = new JsonObject(events.getFirst());
    assertThat(first.getString("object")).isEqualTo("chat.completion.chunk");
    assertThat(first.getJsonArray("choices").getJsonObject(0).getJsonObject("delta").getString("role")).isEqualTo("assistant");
    StringBuilder text = new StringBuilder();
    String finish = null;
    JsonObject usage = null;
    for (String e : events.subList(0, events.size() - 1)) {
      JsonObject chunk = new JsonObject(e);
      JsonArray choices = chunk.getJsonArray("choices");
      if (choices.isEmpty()) {
        usage = chunk.getJsonObject("usage");
        continue;
      }
      assertThat(finish).as("nothing but the usage chunk may follow finish_reason").isNull();
      assertThat(usage).as("usage comes last").isNull();
      JsonObject c = choices.getJsonObject(0);
      String content = c.getJsonObject("delta").getString("content");
      if (content != null) {
        text.append(content);
      }
      if (c.getString("finish_reason") != null) {
        finish = c.getString("finish_reason");
        assertThat(c.getJsonObject("delta").isEmpty()).isTrue();
      }
    }
    assertThat(text.toString()).isEqualTo("tiny:hi");
    assertThat(finish).isEqualTo("length");
    assertThat(usage).isNotNull();
    assertThat(usage.getInteger("completion_tokens")).isEqualTo(7);
  }

  @Test
  void completionsWithEchoAndPromptList() throws Exception {
    HttpResponse<String> r = cluster.post("/v1/completions", """
        {"model":"tiny-chat","prompt":["p1","p2"],"max_tokens":4,"echo":true}""");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonObject body = json(r);
    assertThat(body.getString("object")).isEqualTo("text_completion");
    assertThat(body.getJsonArray("choices").getJsonObject(0).getString("text")).isEqualTo("p1tiny");
    assertThat(body.getJsonArray("choices").getJsonObject(1).getString("text")).isEqualTo("p2tiny");

    HttpResponse<String> s = cluster.post("/v1/completions", """
        {"model":"tiny-chat","prompt":"q","max_tokens":3,"stream":true}""");
    List<String> events = sse(s.body());
    assertThat(events.getLast()).isEqualTo("[DONE]");
    StringBuilder text = new StringBuilder();
    for (String e : events.subList(0, events.size() - 1)) {
      text.append(new JsonObject(e).getJsonArray("choices").getJsonObject(0).getString("text"));
    }
    assertThat(text.toString()).isEqualTo("tin");
  }

  static void assertError(HttpResponse<String> r, int status, String param, String code) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    JsonObject error = json(r).getJsonObject("error");
    assertThat(error).as(r.body()).isNotNull();
    assertThat(error.getString("message")).isNotBlank();
    assertThat(error.getString("type")).isNotBlank();
    assertThat(error.containsKey("param")).isTrue();
    assertThat(error.containsKey("code")).isTrue();
    if (param != null) {
      assertThat(error.getString("param")).isEqualTo(param);
    }
    if (code != null) {
      assertThat(error.getString("code")).isEqualTo(code);
    }
  }

  @Test
  void badRequestsGetOpenAiErrors() throws Exception {
    assertError(cluster.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"), 400, "model", null);
    assertError(cluster.post("/v1/chat/completions", "{\"model\":\"tiny-chat\",\"messages\":[]}"), 400, "messages", null);
    assertError(cluster.post("/v1/chat/completions", "{\"model\":\"tiny-chat\",\"messages\":\"hi\"}"), 400, "messages", null);
    assertError(cluster.post("/v1/chat/completions", "{\"model\":\"tiny-chat\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}"), 400, "messages[0].role", null);
    assertError(cluster.post("/v1/chat/completions", "{\"model\":\"tiny-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}"), 400, "temperature", null);
    assertError(cluster.post("/v1/chat/completions", "{\"model\":\"tiny-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1.5}"), 400, "max_tokens", null);
    assertError(cluster.post("/v1/chat/completions", "{\"model\":\"tiny-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":0}"), 400, "n", null);
    assertError(cluster.post("/v1/chat/completions", "{not json"), 400, null, null);
    assertError(cluster.post("/v1/completions", "{\"model\":\"tiny-chat\"}"), 400, "prompt", null);
  }

  @Test
  void unknownModelIs404() throws Exception {
    assertError(cluster.post("/v1/chat/completions", "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"), 404, "model", "model_not_found");
    assertError(cluster.post("/v1/embeddings", "{\"model\":\"nope\",\"input\":\"x\"}"), 404, "model", "model_not_found");
  }

  @Test
  void contextLengthIsChecked() throws Exception {
    assertError(cluster.post("/v1/chat/completions", "{\"model\":\"tiny-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1000}"),
        400, null, "context_length_exceeded");
    // streaming too: the failure comes before any output, so it is an HTTP 400, not an error inside a stream
    assertError(cluster.post("/v1/chat/completions", "{\"model\":\"tiny-chat\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\""
        + "字".repeat(250) + "\"}],\"max_tokens\":10}"), 400, null, "context_length_exceeded");
    String longText = "字".repeat(250);
    assertError(cluster.post("/v1/chat/completions", "{\"model\":\"tiny-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"" + longText + "\"}],\"max_tokens\":10}"),
        400, null, "context_length_exceeded");
  }

  @Test
  void oversizedBodyIs413() throws Exception {
    String big = "x".repeat(100_000);
    assertError(cluster.post("/v1/chat/completions", "{\"model\":\"tiny-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"" + big + "\"}]}"), 413, null, null);
  }

  @Test
  void corsPreflightIsAnswered() throws Exception {
    HttpRequest preflight = HttpRequest.newBuilder(URI.create(cluster.base() + "/v1/chat/completions"))
        .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("origin", "http://localhost:3000").header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type").build();
    HttpResponse<String> r = cluster.http.send(preflight, HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isBetween(200, 204);
    assertThat(r.headers().firstValue("access-control-allow-origin")).isPresent();
    assertThat(r.headers().firstValue("access-control-allow-methods").orElse("")).contains("POST");
    HttpResponse<String> models = cluster.get("/v1/models", "origin", "http://localhost:3000");
    assertThat(models.headers().firstValue("access-control-allow-origin")).isPresent();
  }

  @Test
  void tokenCheckCountsWithTheWorker() throws Exception {
    HttpResponse<String> r = cluster.post("/api/v1/token_check", "{\"prompts\":[{\"model\":\"tiny-chat\",\"prompt\":\"hello\",\"max_tokens\":10}]}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonObject p = json(r).getJsonArray("prompts").getJsonObject(0);
    assertThat(p.getInteger("tokenCount")).isEqualTo(5);
    assertThat(p.getInteger("contextLength")).isEqualTo(256);
    assertThat(p.getBoolean("fits")).isTrue();
  }

  @Test
  void clientDisconnectCancelsTheGeneration() throws Exception {
    int cancelledBefore = engine.cancelled.get();
    HttpRequest req = HttpRequest.newBuilder(URI.create(cluster.base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(30))
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"tiny-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"slow\"}],\"max_tokens\":200,\"stream\":true}"))
        .build();
    // a slow engine so the stream is still running when we hang up
    ScriptedChatEngine slow = new ScriptedChatEngine("slow", 1024, 50);
    WorkerServer w = cluster.addWorker(new HostedModel.Chat(List.of("slow-chat"), slow), 4, 4);
    HttpRequest slowReq = HttpRequest.newBuilder(req.uri()).timeout(Duration.ofSeconds(30)).header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"slow-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"slow\"}],\"max_tokens\":200,\"stream\":true}"))
        .build();
    HttpResponse<InputStream> resp = cluster.http.send(slowReq, HttpResponse.BodyHandlers.ofInputStream());
    BufferedReader reader = new BufferedReader(new InputStreamReader(resp.body(), StandardCharsets.UTF_8));
    int contentLines = 0;
    String line;
    while (contentLines < 3 && (line = reader.readLine()) != null) {
      if (line.contains("\"content\":\"") && !line.contains("\"role\"")) {
        contentLines++;
      }
    }
    assertThat(slow.active.get()).isEqualTo(1);
    resp.body().close();
    long deadline = System.currentTimeMillis() + 5000;
    while (slow.cancelled.get() == 0 && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
    assertThat(slow.cancelled.get()).isEqualTo(1);
    assertThat(slow.active.get()).isZero();
    assertThat(engine.cancelled.get()).isEqualTo(cancelledBefore);
    TestCluster.await(w.close());
    cluster.workers.remove(w);
    cluster.syncTable();
  }

  @Test
  void metricsAreInPrometheusFormat() throws Exception {
    cluster.post("/v1/chat/completions", "{\"model\":\"tiny-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"m\"}],\"max_tokens\":2}");
    HttpResponse<String> r = cluster.get("/metrics");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type").orElse("")).startsWith("text/plain");
    assertThat(r.body()).contains("zhiku_http_requests_total{model=\"tiny-chat\",route=\"chat_completions\",status=\"200\"}");
    assertThat(r.body()).contains("zhiku_completion_tokens_total{model=\"tiny-chat\"}");
    assertThat(r.body()).contains("jvm_memory_used_bytes");
  }

  static CompletableFuture<HttpResponse<String>> postAsync(TestCluster c, String path, String json) {
    HttpRequest req = HttpRequest.newBuilder(URI.create(c.base() + path)).timeout(Duration.ofSeconds(30))
        .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build();
    return c.http.sendAsync(req, HttpResponse.BodyHandlers.ofString());
  }
}
