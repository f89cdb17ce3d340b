package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.inference.ChatEngineConfig;
import ai.zhiku.inference.ChatEngineFactory;
import ai.zhiku.worker.HostedModel;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Tools, structured output and logprobs through HTTP on the tiny random-weight checkpoints. A random
 * model never writes a valid call or valid JSON by chance: only constrained decoding makes these pass.
 * Outputs are checked by a maintained JSON Schema validator.
 */
class AgentContractTest {
  static TestCluster cluster;
  static final Path GOLDEN = Path.of(System.getProperty("zhiku.golden.dir"));
  static final List<String> TOOL_MODELS = List.of("internlm2-tiny", "qwen2-tiny", "chatglm2-tiny", "chatglm3-tiny");
  static final ObjectMapper JSON = new ObjectMapper();

  static final JsonObject WEATHER_PARAMS = new JsonObject("""
      {"type":"object","properties":{"city":{"type":"string","enum":["北京","上海"]},"days":{"type":"integer"},
       "unit":{"enum":["c","f"]}},"required":["city","days"],"additionalProperties":false}""");
  static final JsonArray TOOLS = new JsonArray()
      .add(new JsonObject().put("type", "function").put("function", new JsonObject().put("name", "get_weather")
          .put("description", "天气预报").put("parameters", WEATHER_PARAMS)))
      .add(new JsonObject().put("type", "function").put("function", new JsonObject().put("name", "get_time")
          .put("parameters", new JsonObject().put("type", "object").put("properties", new JsonObject()))));

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000);
    for (String model : List.of("internlm2-tiny", "qwen2-tiny", "chatglm2-tiny", "chatglm3-tiny")) {
      cluster.addWorker(new HostedModel.Chat(List.of(model),
          ChatEngineFactory.open(new ChatEngineConfig(GOLDEN.resolve(model), "cpu", "float32", null, 8))), 8, 8);
    }
    cluster.startApi(List.of(), 1 << 20);
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  static JsonObject chat(String model) {
    return new JsonObject().put("model", model).put("max_tokens", 120)
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "北京明天天气怎么样?")));
  }

  static JsonObject post(JsonObject body, int status) throws Exception {
    HttpResponse<String> r = cluster.post(body.containsKey("prompt") ? "/v1/completions" : "/v1/chat/completions", body.encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    return new JsonObject(r.body());
  }

  static void assertValid(JsonObject schema, String json) throws Exception {
    assertThat(JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(JSON.readTree(schema.encode()))
        .validate(JSON.readTree(json))).as(json).isEmpty();
  }

  /** The SSE events of a streamed request, [DONE] excluded. */
  static List<JsonObject> stream(JsonObject body) throws Exception {
    HttpResponse<String> r = cluster.post("/v1/chat/completions", body.copy().put("stream", true).encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    List<JsonObject> events = new ArrayList<>();
    for (String line : r.body().split("\n")) {
      if (line.startsWith("data: ") && !line.equals("data: [DONE]")) events.add(new JsonObject(line.substring(6)));
    }
    assertThat(r.body()).endsWith("data: [DONE]\n\n");
    return events;
  }

  @Test
  void requiredToolChoiceReturnsACallWhoseArgumentsValidate() throws Exception {
    for (String model : TOOL_MODELS) {
      for (int seed = 1; seed <= 3; seed++) {
        JsonObject out = post(chat(model).put("tools", TOOLS).put("tool_choice", "required").put("seed", seed), 200);
        JsonObject choice = out.getJsonArray("choices").getJsonObject(0);
        assertThat(choice.getString("finish_reason")).as("%s: %s", model, out.encode()).isEqualTo("tool_calls");
        JsonObject message = choice.getJsonObject("message");
        JsonArray calls = message.getJsonArray("tool_calls");
        assertThat(calls).as(out.encode()).hasSize(1);
        JsonObject call = calls.getJsonObject(0);
        assertThat(call.getString("id")).startsWith("call_");
        assertThat(call.getString("type")).isEqualTo("function");
        String name = call.getJsonObject("function").getString("name");
        String args = call.getJsonObject("function").getString("arguments");
        assertThat(name).isIn("get_weather", "get_time");
        if (name.equals("get_weather")) assertValid(WEATHER_PARAMS, args);
        else assertThat(new JsonObject(args)).isEmpty();
      }
    }
  }

  @Test
  void aNamedFunctionIsCalledStreamedAsOpenAiStreamsCalls() throws Exception {
    for (String model : TOOL_MODELS) {
      JsonObject body = chat(model).put("tools", TOOLS)
          .put("tool_choice", new JsonObject().put("type", "function").put("function", new JsonObject().put("name", "get_weather")));
      List<JsonObject> events = stream(body);
      StringBuilder args = new StringBuilder();
      String id = null;
      String name = null;
      int pieces = 0;
      String finish = null;
      for (JsonObject e : events) {
        for (Object o : e.getJsonArray("choices")) {
          JsonObject c = (JsonObject) o;
          if (c.getString("finish_reason") != null) finish = c.getString("finish_reason");
          JsonArray deltas = c.getJsonObject("delta").getJsonArray("tool_calls");
          if (deltas == null) {
            String content = c.getJsonObject("delta").getString("content");
            assertThat(content == null || content.isEmpty()).as("no content beside a forced call: %s", content).isTrue();
            continue;
          }
          JsonObject d = deltas.getJsonObject(0);
          assertThat(d.getInteger("index")).isZero();
          if (id == null) {
            id = d.getString("id");
            name = d.getJsonObject("function").getString("name");
            assertThat(d.getJsonObject("function").getString("arguments")).isEmpty();
          } else {
            assertThat(d.getString("id")).isNull();
            args.append(d.getJsonObject("function").getString("arguments"));
            pieces++;
          }
        }
      }
      assertThat(id).startsWith("call_");
      assertThat(name).isEqualTo("get_weather");
      assertThat(finish).isEqualTo("tool_calls");
      assertValid(WEATHER_PARAMS, args.toString());
      assertThat(pieces).as("arguments in pieces").isGreaterThan(1);
    }
  }

  @Test
  void aToolRoundTripIsAccepted() throws Exception {
    for (String model : TOOL_MODELS) {
      JsonArray messages = new JsonArray()
          .add(new JsonObject().put("role", "user").put("content", "北京明天天气怎么样?"))
          .add(new JsonObject().put("role", "assistant").putNull("content").put("tool_calls", new JsonArray().add(new JsonObject()
              .put("id", "call_1").put("type", "function").put("function", new JsonObject().put("name", "get_weather")
                  .put("arguments", "{\"city\":\"北京\",\"days\":1}")))))
          .add(new JsonObject().put("role", "tool").put("tool_call_id", "call_1").put("content", "{\"temperature\": 21}"));
      JsonObject out = post(new JsonObject().put("model", model).put("messages", messages).put("tools", TOOLS)
          .put("max_tokens", 8).put("temperature", 0), 200);
      assertThat(out.getJsonObject("usage").getInteger("prompt_tokens")).isGreaterThan(20);
    }
  }

  @Test
  void jsonSchemaResponsesValidateAndJsonObjectsParse() throws Exception {
    JsonObject schema = new JsonObject("""
        {"type":"object","properties":{"answer":{"enum":["yes","no"]},"confidence":{"type":"number"},
         "steps":{"type":"array","items":{"type":"integer"},"maxItems":3},"ok":{"type":"boolean"},
         "detail":{"anyOf":[{"type":"null"},{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}]}},
         "required":["answer","steps","ok","detail"]}""");
    for (String model : List.of("internlm2-tiny", "qwen2-tiny", "chatglm2-tiny")) {
      JsonObject body = chat(model).put("max_tokens", 200).put("response_format", new JsonObject().put("type", "json_schema")
          .put("json_schema", new JsonObject().put("name", "verdict").put("strict", true).put("schema", schema)));
      JsonObject out = post(body, 200);
      JsonObject choice = out.getJsonArray("choices").getJsonObject(0);
      assertThat(choice.getString("finish_reason")).isEqualTo("stop");
      assertValid(schema, choice.getJsonObject("message").getString("content"));

      JsonObject plain = post(chat(model).put("max_tokens", 64).put("seed", 3)
          .put("response_format", new JsonObject().put("type", "json_object")), 200);
      JsonObject c = plain.getJsonArray("choices").getJsonObject(0);
      if (c.getString("finish_reason").equals("stop")) {
        assertThat(new JsonObject(c.getJsonObject("message").getString("content"))).isNotNull();
      }
    }
  }

  @Test
  void greedyLogprobsAreTheTopEntryAndSpellTheContent() throws Exception {
    for (String model : List.of("internlm2-tiny", "qwen2-tiny")) {
      JsonObject out = post(chat(model).put("max_tokens", 12).put("temperature", 0).put("logprobs", true).put("top_logprobs", 4), 200);
      JsonObject choice = out.getJsonArray("choices").getJsonObject(0);
      JsonArray content = choice.getJsonObject("logprobs").getJsonArray("content");
      assertThat(content).hasSize(out.getJsonObject("usage").getInteger("completion_tokens") - (choice.getString("finish_reason").equals("stop") ? 1 : 0));
      java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
      for (Object o : content) {
        JsonObject e = (JsonObject) o;
        JsonArray top = e.getJsonArray("top_logprobs");
        assertThat(top).hasSize(4);
        assertThat(top.getJsonObject(0).getString("token")).isEqualTo(e.getString("token"));
        assertThat(top.getJsonObject(0).getDouble("logprob")).isEqualTo(e.getDouble("logprob"));
        assertThat(e.getDouble("logprob")).isLessThanOrEqualTo(0.0).isGreaterThanOrEqualTo(top.getJsonObject(3).getDouble("logprob"));
        if (e.getJsonArray("bytes") != null) e.getJsonArray("bytes").forEach(b -> bytes.write((Integer) b));
      }
      if (model.startsWith("qwen")) { // byte-level BPE: the tokens' bytes are the text (SentencePiece decoding drops a leading space)
        assertThat(bytes.toString(StandardCharsets.UTF_8)).isEqualTo(choice.getJsonObject("message").getString("content"));
      }

      List<JsonObject> events = stream(chat(model).put("max_tokens", 6).put("temperature", 0).put("logprobs", true));
      int streamed = 0;
      for (JsonObject e : events) {
        for (Object o : e.getJsonArray("choices")) {
          JsonObject lp = ((JsonObject) o).getJsonObject("logprobs");
          if (lp != null) streamed += lp.getJsonArray("content").size();
        }
      }
      assertThat(streamed).isGreaterThan(0);
    }
  }

  @Test
  void completionsTakeTokenIdsAndGiveLegacyLogprobs() throws Exception {
    JsonObject text = post(new JsonObject().put("model", "internlm2-tiny").put("prompt", "你好").put("max_tokens", 6)
        .put("temperature", 0).put("logprobs", 2), 200);
    JsonObject lp = text.getJsonArray("choices").getJsonObject(0).getJsonObject("logprobs");
    int n = lp.getJsonArray("tokens").size();
    assertThat(lp.getJsonArray("token_logprobs")).hasSize(n);
    assertThat(lp.getJsonArray("top_logprobs")).hasSize(n);
    assertThat(lp.getJsonArray("text_offset").getInteger(0)).isZero();
    assertThat(lp.getJsonArray("top_logprobs").getJsonObject(0).size()).isBetween(1, 2);

    HttpResponse<String> tok = cluster.post("/tokenize", new JsonObject().put("model", "internlm2-tiny").put("prompt", "你好").encode());
    assertThat(tok.statusCode()).as(tok.body()).isEqualTo(200);
    JsonArray ids = new JsonObject(tok.body()).getJsonArray("tokens");
    JsonObject byIds = post(new JsonObject().put("model", "internlm2-tiny").put("prompt", ids).put("max_tokens", 6).put("temperature", 0), 200);
    assertThat(byIds.getJsonArray("choices").getJsonObject(0).getString("text"))
        .isEqualTo(text.getJsonArray("choices").getJsonObject(0).getString("text"));
    JsonObject both = post(new JsonObject().put("model", "internlm2-tiny").put("prompt", new JsonArray().add(ids).add(ids))
        .put("max_tokens", 2).put("temperature", 0), 200);
    assertThat(both.getJsonArray("choices")).hasSize(2);

    HttpResponse<String> detok = cluster.post("/detokenize", new JsonObject().put("model", "internlm2-tiny").put("tokens", ids).encode());
    assertThat(detok.statusCode()).as(detok.body()).isEqualTo(200);
    assertThat(new JsonObject(detok.body()).getString("prompt")).isEqualTo("你好");
  }

  @Test
  void echoWithLogprobsScoresThePromptFirst() throws Exception {
    JsonObject plain = post(new JsonObject().put("model", "internlm2-tiny").put("prompt", "北京明天天气怎么样?").put("max_tokens", 3)
        .put("temperature", 0).put("logprobs", 1), 200);
    JsonObject echoed = post(new JsonObject().put("model", "internlm2-tiny").put("prompt", "北京明天天气怎么样?").put("max_tokens", 3)
        .put("temperature", 0).put("logprobs", 1).put("echo", true), 200);
    JsonObject c = echoed.getJsonArray("choices").getJsonObject(0);
    String out = plain.getJsonArray("choices").getJsonObject(0).getString("text");
    assertThat(c.getString("text")).isEqualTo("北京明天天气怎么样?" + out);
    JsonObject lp = c.getJsonObject("logprobs");
    int prompt = echoed.getJsonObject("usage").getInteger("prompt_tokens");
    assertThat(lp.getJsonArray("tokens")).hasSize(prompt + 3);
    assertThat(lp.getJsonArray("token_logprobs").getValue(0)).isNull(); // nothing predicts the first token
    assertThat(lp.getJsonArray("top_logprobs").getValue(0)).isNull();
    for (int i = 1; i < prompt; i++) assertThat(lp.getJsonArray("token_logprobs").getDouble(i)).isLessThanOrEqualTo(0.0);
    // the output's own logprobs are those of the request without echo
    JsonArray plainLps = plain.getJsonArray("choices").getJsonObject(0).getJsonObject("logprobs").getJsonArray("token_logprobs");
    for (int i = 0; i < 3; i++) {
      assertThat(lp.getJsonArray("token_logprobs").getDouble(prompt + i)).isCloseTo(plainLps.getDouble(i), org.assertj.core.api.Assertions.within(1e-4));
    }
    // offsets run through the echoed prompt into the output
    JsonArray offsets = lp.getJsonArray("text_offset");
    for (int i = 1; i < offsets.size(); i++) assertThat(offsets.getInteger(i)).isGreaterThanOrEqualTo(offsets.getInteger(i - 1));

    // streamed: the same text and the same tokens, the prompt's first
    HttpResponse<String> r = cluster.post("/v1/completions", new JsonObject().put("model", "internlm2-tiny").put("prompt", "北京明天天气怎么样?")
        .put("max_tokens", 3).put("temperature", 0).put("logprobs", 1).put("echo", true).put("stream", true).encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    StringBuilder text = new StringBuilder();
    List<Object> streamedLps = new ArrayList<>();
    for (String line : r.body().split("\n")) {
      if (!line.startsWith("data: {")) continue;
      for (Object o : new JsonObject(line.substring(6)).getJsonArray("choices")) {
        JsonObject ch = (JsonObject) o;
        text.append(ch.getString("text", ""));
        JsonObject l = ch.getJsonObject("logprobs");
        if (l != null) streamedLps.addAll(l.getJsonArray("token_logprobs").getList());
      }
    }
    assertThat(text.toString()).isEqualTo(c.getString("text"));
    assertThat(streamedLps).hasSize(prompt + 3);
    assertThat(streamedLps.get(0)).isNull();
  }

  @Test
  void logitBiasSteersTheDraw() throws Exception {
    HttpResponse<String> tok = cluster.post("/tokenize", new JsonObject().put("model", "qwen2-tiny").put("prompt", "好").encode());
    int id = new JsonObject(tok.body()).getJsonArray("tokens").getInteger(0);
    JsonObject out = post(chat("qwen2-tiny").put("max_tokens", 4).put("temperature", 0)
        .put("logit_bias", new JsonObject().put(String.valueOf(id), 100)), 200);
    assertThat(out.getJsonArray("choices").getJsonObject(0).getJsonObject("message").getString("content")).isEqualTo("好好好好");
  }

  @Test
  void whatCannotBeHonouredIsA400NamingIt() throws Exception {
    JsonObject e = post(chat("internlm2-tiny").put("response_format", new JsonObject().put("type", "json_schema")
        .put("json_schema", new JsonObject().put("name", "x").put("schema", new JsonObject("{\"type\":\"string\",\"pattern\":\"a+\"}")))), 400);
    assertThat(e.getJsonObject("error").getString("message")).contains("'pattern'");
    e = post(chat("internlm2-tiny").put("tool_choice", "required"), 400);
    assertThat(e.getJsonObject("error").getString("param")).isEqualTo("tool_choice");
    e = post(chat("internlm2-tiny").put("tools", TOOLS)
        .put("tool_choice", new JsonObject().put("type", "function").put("function", new JsonObject().put("name", "nope"))), 400);
    assertThat(e.getJsonObject("error").getString("param")).isEqualTo("tool_choice.function.name");
    e = post(chat("internlm2-tiny").put("logprobs", true).put("top_logprobs", 21), 400);
    assertThat(e.getJsonObject("error").getString("param")).isEqualTo("top_logprobs");
    e = post(chat("internlm2-tiny").put("logit_bias", new JsonObject().put("abc", 1)), 400);
    assertThat(e.getJsonObject("error").getString("param")).isEqualTo("logit_bias");
    e = post(chat("internlm2-tiny").put("logit_bias", new JsonObject().put("99999999", 1)), 400);
    assertThat(e.getJsonObject("error").getString("message")).contains("vocabulary");
    e = post(new JsonObject().put("model", "internlm2-tiny").put("prompt", new JsonArray().add(1).add(-5)), 400);
    assertThat(e.getJsonObject("error").getString("param")).isEqualTo("prompt[1]");
  }
}
