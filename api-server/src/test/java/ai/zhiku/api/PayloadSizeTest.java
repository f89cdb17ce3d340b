package ai.zhiku.api;

import static ai.zhiku.api.SpineTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.embeddings.EmbeddingEngineConfig;
import ai.zhiku.embeddings.EmbeddingEngineFactory;
import ai.zhiku.worker.HostedModel;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Requests and replies far above gRPC's default 256 KiB message limit, through every hop (HTTP,
 * api-server, gRPC, worker) with the api-server's default 8 MiB body limit: 2,048 embeddings from
 * the real bundled bge-small-zh worker, a 300 KB chat prompt, and a worker whose own limit is lower
 * than what the api-server lets through.
 */
class PayloadSizeTest {
  static TestCluster cluster;
  static final String EMBEDDING = EmbeddingEngineFactory.DEFAULT_MODEL_NAME;

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000);
    cluster.addWorker(new HostedModel.Embedding(List.of(EMBEDDING), EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults())), 8, 64);
    cluster.addWorker(new HostedModel.Chat(List.of("long-chat"), new ScriptedChatEngine("long", 4096, 1)), 8, 8);
    // a worker deployed with a smaller --max-body-bytes than the api-server in front of it
    cluster.addWorker(new HostedModel.Chat(List.of("small-chat"), new ScriptedChatEngine("small", 1 << 30, 1)), 8, 8,
        c -> c.withMaxBodyBytes(64 * 1024));
    cluster.startApi(List.of(), 8L << 20);
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  static HttpResponse<String> post(String path, String json) throws Exception {
    HttpRequest req = HttpRequest.newBuilder(URI.create(cluster.base() + path)).timeout(Duration.ofMinutes(5))
        .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build();
    return cluster.http.send(req, HttpResponse.BodyHandlers.ofString());
  }

  static String input(int i) {
    return "第" + i + "条：文档片段 " + (i * 7919 % 1000);
  }

  static float[] vector(JsonObject item) {
    JsonArray a = item.getJsonArray("embedding");
    float[] v = new float[a.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = a.getNumber(i).floatValue();
    }
    return v;
  }

  @Test
  void twoThousandFortyEightEmbeddingsComeBackInOrderAndEqualSingleInputs() throws Exception {
    JsonArray inputs = new JsonArray();
    for (int i = 0; i < 2048; i++) {
      inputs.add(input(i));
    }
    HttpResponse<String> r = post("/v1/embeddings", new JsonObject().put("model", EMBEDDING).put("input", inputs).encode());
    assertThat(r.statusCode()).as(r.body().length() > 500 ? r.body().substring(0, 500) : r.body()).isEqualTo(200);
    JsonArray data = new JsonObject(r.body()).getJsonArray("data");
    assertThat(data).hasSize(2048);
    for (int i = 0; i < 2048; i++) {
      assertThat(data.getJsonObject(i).getInteger("index")).isEqualTo(i);
    }
    // 16 positions spread over the range, first and last included
    for (int k = 0; k < 16; k++) {
      int i = k * 2047 / 15;
      HttpResponse<String> alone = post("/v1/embeddings", new JsonObject().put("model", EMBEDDING).put("input", input(i)).encode());
      assertThat(alone.statusCode()).as(alone.body()).isEqualTo(200);
      float[] single = vector(new JsonObject(alone.body()).getJsonArray("data").getJsonObject(0));
      float[] batched = vector(data.getJsonObject(i));
      assertThat(batched).hasSize(single.length);
      for (int j = 0; j < single.length; j++) {
        assertThat(Math.abs(batched[j] - single[j])).as("input %d, component %d", i, j).isLessThanOrEqualTo(1e-5f);
      }
    }
  }

  @Test
  void base64EmbeddingsOfAFullBatchFit() throws Exception {
    JsonArray inputs = new JsonArray();
    for (int i = 0; i < 2048; i++) {
      inputs.add("b" + i);
    }
    HttpResponse<String> r = post("/v1/embeddings", new JsonObject().put("model", EMBEDDING).put("input", inputs)
        .put("encoding_format", "base64").encode());
    assertThat(r.statusCode()).isEqualTo(200);
    JsonArray data = new JsonObject(r.body()).getJsonArray("data");
    assertThat(data).hasSize(2048);
    assertThat(data.getJsonObject(2047).getString("embedding")).isNotEmpty();
  }

  @Test
  void moreThan2048InputsIs400NamingInput() throws Exception {
    JsonArray inputs = new JsonArray();
    for (int i = 0; i < 2049; i++) {
      inputs.add("x" + i);
    }
    HttpResponse<String> r = post("/v1/embeddings", new JsonObject().put("model", EMBEDDING).put("input", inputs).encode());
    assertError(r, 400, "input", null);
    assertThat(new JsonObject(r.body()).getJsonObject("error").getString("type")).isEqualTo("invalid_request_error");
  }

  @Test
  void a300KbPromptIsContextLengthExceededNot429() throws Exception {
    String prompt = "字".repeat(100_000); // 300,000 bytes of UTF-8
    String body = new JsonObject().put("model", "long-chat").put("messages", new JsonArray()
        .add(new JsonObject().put("role", "user").put("content", prompt))).put("max_tokens", 16).encode();
    assertThat(body.length()).isGreaterThan(100_000);
    HttpResponse<String> r = post("/v1/chat/completions", body);
    assertError(r, 400, null, "context_length_exceeded");
    assertThat(r.headers().firstValue("retry-after")).isEmpty();
    String message = new JsonObject(r.body()).getJsonObject("error").getString("message");
    assertThat(message).contains("4096").contains(String.valueOf(100_000 + "user:\n".length()));
    // streaming: the failure comes before any output, so it is the same HTTP 400
    HttpResponse<String> s = post("/v1/chat/completions", new JsonObject(body).put("stream", true).encode());
    assertError(s, 400, null, "context_length_exceeded");
    // without max_tokens the prompt alone is over the context
    HttpResponse<String> open = post("/v1/chat/completions", new JsonObject(body).put("max_tokens", (Object) null).encode());
    assertError(open, 400, null, "context_length_exceeded");
    assertThat(new JsonObject(open.body()).getJsonObject("error").getString("message")).contains("resulted in 100006 tokens");
    // completions too
    HttpResponse<String> c = post("/v1/completions", new JsonObject().put("model", "long-chat").put("prompt", prompt).put("max_tokens", 4).encode());
    assertError(c, 400, null, "context_length_exceeded");
  }

  @Test
  void aRequestOverTheWorkersMessageLimitIs413NeverA429() throws Exception {
    // 6 MB passes the api-server's 8 MiB body limit but not this worker's gRPC limit (2 x 64 KiB + 4 MiB)
    String body = new JsonObject().put("model", "small-chat").put("messages", new JsonArray()
        .add(new JsonObject().put("role", "user").put("content", "x".repeat(6_000_000)))).put("max_tokens", 4).encode();
    HttpResponse<String> r = post("/v1/chat/completions", body);
    assertError(r, 413, null, "request_too_large");
    assertThat(r.headers().firstValue("retry-after")).isEmpty();
    assertThat(new JsonObject(r.body()).getJsonObject("error").getString("message")).contains("--max-body-bytes");
    // what fits is served
    HttpResponse<String> ok = post("/v1/chat/completions", """
        {"model":"small-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":3}""");
    assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
  }
}
