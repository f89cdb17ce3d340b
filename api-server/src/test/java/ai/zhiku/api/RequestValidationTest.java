package ai.zhiku.api;

import static ai.zhiku.api.SpineTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.worker.HostedModel;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Integers read without overflow, caps on the work one request may ask for, and seeds per choice. */
class RequestValidationTest {
  static TestCluster cluster;
  static ScriptedChatEngine engine;
  static final String TWO_64_PLUS_1 = "18446744073709551617";
  static final String CHAT = "{\"model\":\"tiny-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]";

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000);
    engine = new ScriptedChatEngine("tiny", 256, 0);
    cluster.addWorker(new HostedModel.Chat(List.of("tiny-chat"), engine), 16, 64);
    // knowledge-base routes on; the checks below all fail before the database would be reached
    cluster.startApi(List.of(), 1 << 20, "jdbc:postgresql://127.0.0.1:1/never-reached");
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  static HttpResponse<String> chat(String extra) throws Exception {
    return cluster.post("/v1/chat/completions", CHAT + "," + extra + "}");
  }

  // ------------------------------------------------------------------ the helper

  @Test
  void boundedIntegerNeverWraps() {
    assertThat(Json.boundedInteger(5, "f", 0, 10)).isEqualTo(5);
    assertThat(Json.boundedInteger(2.0, "f", 0, 10)).isEqualTo(2);
    assertThat(Json.boundedInteger(Long.MIN_VALUE, "f", Long.MIN_VALUE, Long.MAX_VALUE)).isEqualTo(Long.MIN_VALUE);
    assertThat(Json.boundedInteger(new BigInteger("9223372036854775807"), "f", 0, Long.MAX_VALUE)).isEqualTo(Long.MAX_VALUE);
    assertThat(Json.boundedInteger(new BigDecimal("12.000"), "f", 0, 100)).isEqualTo(12);
    for (Object bad : List.of(new BigInteger(TWO_64_PLUS_1), new BigInteger("9223372036854775808"), new BigInteger("-9223372036854775809"),
        1e19, -1e19, 9.223372036854775807E18, Double.POSITIVE_INFINITY, Integer.MAX_VALUE + 1L, -1, new BigDecimal("1e400"))) {
      assertThatThrownBy(() -> Json.boundedInteger(bad, "f", 0, Integer.MAX_VALUE)).as(String.valueOf(bad))
          .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.param()).isEqualTo("f"));
    }
    for (Object bad : List.of(1.5, Double.NaN, new BigDecimal("0.5"), "3", true)) {
      assertThatThrownBy(() -> Json.boundedInteger(bad, "f", Long.MIN_VALUE, Long.MAX_VALUE)).as(String.valueOf(bad))
          .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.getMessage()).contains("an integer"));
    }
  }

  // ------------------------------------------------------------------ through HTTP

  @Test
  void tokenCheckDoesNotOverflow() throws Exception {
    HttpResponse<String> r = cluster.post("/api/v1/token_check",
        "{\"prompts\":[{\"model\":\"tiny-chat\",\"prompt\":\"hello\",\"max_tokens\":2147483647}]}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(new JsonObject(r.body()).getJsonArray("prompts").getJsonObject(0).getBoolean("fits")).isFalse();
    assertError(cluster.post("/api/v1/token_check", "{\"prompts\":[{\"model\":\"tiny-chat\",\"prompt\":\"hello\",\"max_tokens\":"
        + TWO_64_PLUS_1 + "}]}"), 400, "max_tokens", null);
    JsonArray many = new JsonArray();
    for (int i = 0; i < 2049; i++) {
      many.add(new JsonObject().put("model", "tiny-chat").put("prompt", "p"));
    }
    assertError(cluster.post("/api/v1/token_check", new JsonObject().put("prompts", many).encode()), 400, "prompts", null);
  }

  @Test
  void integersOf2To64AndMoreAre400NamingTheParameter() throws Exception {
    for (String field : List.of("max_tokens", "max_completion_tokens", "n", "top_k", "seed")) {
      for (String value : List.of(TWO_64_PLUS_1, "-" + TWO_64_PLUS_1, "1e30", "9223372036854775808")) {
        HttpResponse<String> r = chat("\"" + field + "\":" + value);
        assertError(r, 400, field, null);
        assertThat(new JsonObject(r.body()).getJsonObject("error").getString("type")).isEqualTo("invalid_request_error");
      }
    }
    assertError(cluster.post("/v1/completions", "{\"model\":\"tiny-chat\",\"prompt\":\"p\",\"best_of\":" + TWO_64_PLUS_1 + "}"), 400, "best_of", null);
    assertError(cluster.post("/v1/completions", "{\"model\":\"tiny-chat\",\"prompt\":\"p\",\"max_tokens\":" + TWO_64_PLUS_1 + "}"), 400, "max_tokens", null);
    assertError(cluster.post("/v1/embeddings", "{\"model\":\"tiny-chat\",\"input\":\"x\",\"dimensions\":" + TWO_64_PLUS_1 + "}"), 400, "dimensions", null);
    assertError(cluster.post("/v1/embeddings", "{\"model\":\"tiny-chat\",\"input\":[5," + TWO_64_PLUS_1 + "]}"), 400, "input", null);
    assertError(cluster.post("/v1/embeddings", "{\"model\":\"tiny-chat\",\"input\":[[5,-1]]}"), 400, "input", null);
    // knowledge-base integers: in a chat, and on the knowledge-base routes
    assertError(chat("\"knowledge_base\":\"kb\",\"top_k\":" + TWO_64_PLUS_1), 400, "top_k", null);
    assertError(cluster.post("/v1/chat/completions", CHAT + ",\"knowledge_base\":\"kb\"}", "x-knowledge-base-top-k", TWO_64_PLUS_1),
        400, "x-knowledge-base-top-k", null);
    assertError(cluster.post("/v1/knowledge_bases", "{\"name\":\"k\",\"chunk_overlap\":" + TWO_64_PLUS_1 + "}"), 400, "chunk_overlap", null);
    assertError(cluster.post("/v1/knowledge_bases", "{\"name\":\"k\",\"chunk_size\":" + TWO_64_PLUS_1 + "}"), 400, "chunk_size", null);
    assertError(cluster.post("/v1/knowledge_bases/k/search", "{\"query\":\"q\",\"top_k\":" + TWO_64_PLUS_1 + "}"), 400, "top_k", null);
    assertError(cluster.post("/v1/knowledge_bases/k/search", "{\"query\":\"q\",\"top_k\":0}"), 400, "top_k", null);
    // a seed may be any signed 64-bit integer
    assertThat(chat("\"seed\":-9223372036854775808,\"max_tokens\":2").statusCode()).isEqualTo(200);
    assertThat(chat("\"seed\":9223372036854775807,\"max_tokens\":2").statusCode()).isEqualTo(200);
  }

  @Test
  void workPerRequestIsCapped() throws Exception {
    assertError(chat("\"n\":17"), 400, "n", null);
    assertThat(chat("\"n\":16,\"max_tokens\":1").statusCode()).isEqualTo(200);
    assertError(chat("\"n\":1.5"), 400, "n", null);
    assertThat(chat("\"n\":2.0,\"max_tokens\":1").statusCode()).isEqualTo(200);
    assertError(chat("\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]"), 400, "stop", null);
    assertThat(chat("\"stop\":[\"a\",\"b\",\"c\",\"d\"],\"max_tokens\":1").statusCode()).isEqualTo(200);
    assertError(cluster.post("/v1/completions", "{\"model\":\"tiny-chat\",\"prompt\":\"p\",\"n\":17}"), 400, "n", null);

    JsonArray prompts = new JsonArray();
    for (int i = 0; i < 2049; i++) {
      prompts.add("p");
    }
    assertError(cluster.post("/v1/completions", new JsonObject().put("model", "tiny-chat").put("prompt", prompts).encode()), 400, "prompt", null);
    prompts.remove(0);
    // 2,048 prompts with n = 2 are 4,096 generations
    assertError(cluster.post("/v1/completions", new JsonObject().put("model", "tiny-chat").put("prompt", prompts).put("n", 2).encode()),
        400, "n", null);
  }

  // ------------------------------------------------------------------ seeds

  /** The n choices' texts, by index. */
  static List<String> choices(int n, long seed) throws Exception {
    HttpResponse<String> r = chat("\"n\":" + n + ",\"seed\":" + seed + ",\"max_tokens\":24");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonArray choices = new JsonObject(r.body()).getJsonArray("choices");
    List<String> out = new ArrayList<>();
    for (int i = 0; i < choices.size(); i++) {
      assertThat(choices.getJsonObject(i).getInteger("index")).isEqualTo(i);
      out.add(choices.getJsonObject(i).getJsonObject("message").getString("content"));
    }
    return out;
  }

  @Test
  void eachChoiceHasItsOwnSeededStream() throws Exception {
    List<String> first = choices(4, 42);
    assertThat(new HashSet<>(first)).as("the choices differ: %s", first).hasSize(4);
    assertThat(choices(4, 42)).as("the same request gives the same choices").isEqualTo(first);
    assertThat(choices(1, 42)).as("choice 0 keeps the seed: n = 1 is unchanged").containsExactly(first.getFirst());
    assertThat(choices(4, 43)).isNotEqualTo(first);

    // what the worker received: choice 0 the seed itself, the others distinct derived seeds
    engine.requests.clear();
    choices(5, 7);
    Set<Long> seeds = new HashSet<>();
    for (GenerationRequest r : engine.requests) {
      seeds.add(r.sampling().seed());
    }
    assertThat(seeds).hasSize(5).contains(7L);
    for (int i = 1; i < 5; i++) {
      assertThat(seeds).contains(GenerationHandlers.choiceSeed(7, i));
    }

    // completions: each prompt's choice i gets the same derived seed, so equal prompts give equal choice lists
    HttpResponse<String> c = cluster.post("/v1/completions", "{\"model\":\"tiny-chat\",\"prompt\":[\"z\",\"z\"],\"n\":3,\"seed\":9,\"max_tokens\":24}");
    JsonArray cc = new JsonObject(c.body()).getJsonArray("choices");
    assertThat(cc).hasSize(6);
    Set<String> distinct = new HashSet<>();
    for (int i = 0; i < 3; i++) {
      assertThat(cc.getJsonObject(i).getString("text")).isEqualTo(cc.getJsonObject(i + 3).getString("text"));
      distinct.add(cc.getJsonObject(i).getString("text"));
    }
    assertThat(distinct).hasSize(3);
  }
}
