package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.inference.ChatEngineConfig;
import ai.zhiku.inference.ChatEngineFactory;
import ai.zhiku.worker.HostedModel;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The real decoders (tiny ChatGLM2, ChatGLM3, InternLM2 and Qwen2 checkpoints from the goldens) served through
 * worker, controller and api-server: a greedy chat over HTTP must give the official code's greedy
 * continuation, token for token, with the prompt the official template builds.
 */
class RealModelServingTest {
  static TestCluster cluster;
  static final Path GOLDEN = Path.of(System.getProperty("zhiku.golden.dir"));
  static final List<String> MODELS = List.of("chatglm2-tiny", "internlm2-tiny", "chatglm3-tiny", "qwen2-tiny");

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000);
    for (String model : MODELS) {
      cluster.addWorker(new HostedModel.Chat(List.of(model),
          ChatEngineFactory.open(new ChatEngineConfig(GOLDEN.resolve(model), "cpu", "float32", null, 4))), 8, 8);
    }
    // the bfloat16 checkpoint served twice: float32 compute and our bfloat16 kernel. Both keep a float32
    // KV cache: the comparison is of the weights and products path, token for token over 16 tokens of a
    // random-weight model whose top-2 margins are often under 0.01; a bfloat16 cache (the default for
    // --dtype bfloat16) moves logits by as much and is checked against the goldens' bounds instead
    // (Bf16DecoderTest, PrefixReuseTest)
    for (String dtype : List.of("float32", "bfloat16")) {
      cluster.addWorker(new HostedModel.Chat(List.of("glm-bf16-as-" + dtype), ChatEngineFactory.open(
          new ChatEngineConfig(GOLDEN.resolve("chatglm2-tiny-bf16"), "cpu", dtype, null, 4, null, "float32"))), 8, 8);
    }
    cluster.startApi(List.of(), 1 << 20);
  }

  /** --dtype bfloat16 through the whole stack answers what float32 compute answers on the same weights. */
  @org.junit.jupiter.api.Test
  void bfloat16ServingGivesTheFloat32GreedyText() throws Exception {
    for (String query : List.of("你好", "What is the capital of France?", "写一首关于春天的诗")) {
      JsonObject body = new JsonObject().put("messages", new JsonArray().add(new JsonObject().put("role", "user")
          .put("content", query))).put("temperature", 0).put("max_tokens", 16);
      String[] texts = new String[2];
      int i = 0;
      for (String dtype : List.of("float32", "bfloat16")) {
        HttpResponse<String> r = cluster.post("/v1/chat/completions", body.copy().put("model", "glm-bf16-as-" + dtype).encode());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonObject out = new JsonObject(r.body());
        assertThat(out.getJsonObject("usage").getInteger("completion_tokens")).isEqualTo(16);
        texts[i++] = out.getJsonArray("choices").getJsonObject(0).getJsonObject("message").getString("content");
      }
      assertThat(texts[1]).as(query).isNotBlank().isEqualTo(texts[0]);
    }
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  static Stream<Arguments> cases() throws Exception {
    List<Arguments> out = new ArrayList<>();
    for (String model : MODELS) {
      JsonObject golden = new JsonObject(Files.readString(GOLDEN.resolve(model).resolve("golden.json")));
      JsonArray eos = golden.getJsonArray("eos_token_ids");
      for (Object o : golden.getJsonArray("cases")) {
        JsonObject c = (JsonObject) o;
        JsonObject greedy = c.getJsonObject("greedy");
        String text = greedy.containsKey("text_skip_special_tokens") ? greedy.getString("text_skip_special_tokens") : greedy.getString("text");
        boolean stopsEarly = greedy.getJsonArray("new_ids").stream().anyMatch(eos::contains);
        boolean defaultSystem = !c.containsKey("meta_instruction")
            || c.getString("meta_instruction").equals(golden.getString("default_meta_instruction"));
        // ChatGLM3's role ids decode to their text in the golden; the served text leaves special ids out
        boolean roleToken = model.equals("chatglm3-tiny")
            && greedy.getJsonArray("new_ids").stream().anyMatch(id -> ((Number) id).intValue() >= 64789);
        // tool turns need the API's tools wiring (separate work); the families' tool formats are tested in inference
        boolean tools = c.getValue("tools") != null || (c.containsKey("history") && c.getJsonArray("history").stream()
            .anyMatch(h -> h instanceof JsonObject m && (m.containsKey("tools") || !m.getString("metadata", "").isEmpty())))
            || "observation".equals(c.getString("role"));
        if (text != null && !stopsEarly && defaultSystem && !roleToken && !tools) {
          out.add(Arguments.of(model, c.getString("name"), c));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void greedyChatOverHttpMatchesTheOfficialCode(String model, String name, JsonObject c) throws Exception {
    JsonArray messages = new JsonArray();
    if (c.containsKey("messages")) { // qwen2: the messages given to the template
      for (Object m : c.getJsonArray("messages")) {
        JsonObject msg = (JsonObject) m;
        messages.add(new JsonObject().put("role", msg.getString("role")).put("content", msg.getString("content")));
      }
    } else {
      for (Object turn : c.getJsonArray("history")) {
        if (turn instanceof JsonObject msg) { // chatglm3: build_chat_input's message dicts
          messages.add(new JsonObject().put("role", msg.getString("role")).put("content", msg.getString("content")));
          continue;
        }
        JsonArray pair = (JsonArray) turn;
        messages.add(new JsonObject().put("role", "user").put("content", pair.getString(0)));
        messages.add(new JsonObject().put("role", "assistant").put("content", pair.getString(1)));
      }
      messages.add(new JsonObject().put("role", "user").put("content", c.getString("query")));
    }
    JsonObject body = new JsonObject().put("model", model).put("messages", messages).put("temperature", 0).put("max_tokens", 12);
    HttpResponse<String> r = cluster.post("/v1/chat/completions", body.encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonObject out = new JsonObject(r.body());
    JsonObject greedy = c.getJsonObject("greedy");
    String expected = greedy.containsKey("text_skip_special_tokens") ? greedy.getString("text_skip_special_tokens") : greedy.getString("text");
    assertThat(out.getJsonObject("usage").getInteger("prompt_tokens")).isEqualTo(c.getJsonArray("input_ids").size());
    assertThat(out.getJsonObject("usage").getInteger("completion_tokens")).isEqualTo(12);
    assertThat(out.getJsonArray("choices").getJsonObject(0).getString("finish_reason")).isEqualTo("length");
    String content = out.getJsonArray("choices").getJsonObject(0).getJsonObject("message").getString("content");
    assertThat(content.strip()).isEqualTo(expected.strip());

    // the streamed text is the same text
    HttpResponse<String> s = cluster.post("/v1/chat/completions", body.copy().put("stream", true).encode());
    StringBuilder streamed = new StringBuilder();
    List<String> events = SpineTest.sse(s.body());
    assertThat(events.getLast()).isEqualTo("[DONE]");
    for (String e : events.subList(0, events.size() - 1)) {
      String piece = new JsonObject(e).getJsonArray("choices").getJsonObject(0).getJsonObject("delta").getString("content");
      if (piece != null) {
        streamed.append(piece);
      }
    }
    assertThat(streamed.toString()).isEqualTo(content);
  }
}
