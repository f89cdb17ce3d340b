package ai.zhiku.api;

import static ai.zhiku.api.SpineTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.embeddings.EmbeddingEngineConfig;
import ai.zhiku.embeddings.EmbeddingEngineFactory;
import ai.zhiku.worker.HostedModel;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Knowledge bases through the HTTP API against the real Postgres + pgvector (ZHIKU_TEST_DATABASE_URL, set by
 * bin/zhiku test) with the real bundled embedding model; the chat side is the scripted engine, which records
 * the prompt it was given so the test can see the retrieved context arrive.
 */
class KnowledgeBaseApiTest {
  static TestCluster cluster;
  static ScriptedChatEngine chat;
  static OpenAIClient client;
  static final String KB = "kbapi_" + UUID.randomUUID().toString().substring(0, 8);

  static String databaseUrl() {
    String url = System.getProperty("ZHIKU_TEST_DATABASE_URL", System.getenv("ZHIKU_TEST_DATABASE_URL"));
    assertThat(url).as("ZHIKU_TEST_DATABASE_URL (bin/zhiku test starts the database and sets it)").isNotBlank();
    return url;
  }

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000);
    chat = new ScriptedChatEngine("kb", 8192, 0);
    cluster.addWorker(new HostedModel.Chat(List.of("tiny-chat"), chat), 8, 8);
    cluster.addWorker(new HostedModel.Embedding(List.of(EmbeddingEngineFactory.DEFAULT_MODEL_NAME),
        EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults())), 8, 64);
    cluster.startApi(List.of(), 1 << 20, databaseUrl());
    client = OpenAIOkHttpClient.builder().baseUrl(cluster.base() + "/v1").apiKey("none").maxRetries(0).build();
  }

  @AfterAll
  static void stop() throws Exception {
    HttpRequest delete = HttpRequest.newBuilder(URI.create(cluster.base() + "/v1/knowledge_bases/" + KB)).DELETE().build();
    cluster.http.send(delete, HttpResponse.BodyHandlers.ofString());
    client.close();
    cluster.close();
  }

  static HttpResponse<String> upload(String kb, String fileName, byte[] content) throws Exception {
    String boundary = "----zhiku" + UUID.randomUUID();
    byte[] head = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + fileName
        + "\"\r\nContent-Type: text/plain\r\n\r\n").getBytes(StandardCharsets.UTF_8);
    byte[] tail = ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8);
    byte[] body = new byte[head.length + content.length + tail.length];
    System.arraycopy(head, 0, body, 0, head.length);
    System.arraycopy(content, 0, body, head.length, content.length);
    System.arraycopy(tail, 0, body, head.length + content.length, tail.length);
    HttpRequest req = HttpRequest.newBuilder(URI.create(cluster.base() + "/v1/knowledge_bases/" + kb + "/documents"))
        .header("content-type", "multipart/form-data; boundary=" + boundary).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    return cluster.http.send(req, HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void ingestSearchAndAnswerWithSources() throws Exception {
    HttpResponse<String> created = cluster.post("/v1/knowledge_bases",
        new JsonObject().put("name", KB).put("description", "  部署与嵌入的笔记  ").encode());
    assertThat(created.statusCode()).as(created.body()).isEqualTo(200);
    assertThat(new JsonObject(created.body()).getString("description")).isEqualTo("部署与嵌入的笔记");
    assertThat(new JsonObject(cluster.get("/v1/knowledge_bases/" + KB).body()).getString("description")).isEqualTo("部署与嵌入的笔记");
    assertThat(new JsonObject(created.body()).getString("embedding_model")).isEqualTo("bge-small-zh-v1.5");
    assertThat(new JsonObject(created.body()).getInteger("dimension")).isEqualTo(512);

    Path seed = Path.of(System.getProperty("zhiku.seeds.dir")).resolve("001_564e41be571e23d7.txt");
    byte[] bytes = Files.readAllBytes(seed);
    HttpResponse<String> first = upload(KB, "embedding.md", bytes);
    assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
    assertThat(new JsonObject(first.body()).getString("status")).isEqualTo("created");
    HttpResponse<String> again = upload(KB, "embedding.md", bytes);
    assertThat(new JsonObject(again.body()).getString("status")).isEqualTo("unchanged");

    HttpResponse<String> fact = cluster.post("/v1/knowledge_bases/" + KB + "/documents",
        new JsonObject().put("name", "zhiku-facts.txt").put("text", "知库服务默认监听 8000 端口。控制器默认端口是 21001。").encode());
    assertThat(fact.statusCode()).as(fact.body()).isEqualTo(200);

    JsonObject info = new JsonObject(cluster.get("/v1/knowledge_bases/" + KB).body());
    assertThat(info.getLong("document_count")).isEqualTo(2);
    assertThat(info.getLong("chunk_count")).isGreaterThan(2);

    for (String mode : List.of("dense", "keyword", "hybrid")) {
      HttpResponse<String> r = cluster.post("/v1/knowledge_bases/" + KB + "/search",
          new JsonObject().put("query", "控制器默认端口是多少").put("top_k", 3).put("mode", mode).encode());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      JsonArray data = new JsonObject(r.body()).getJsonArray("data");
      assertThat(data).isNotEmpty();
      assertThat(data.getJsonObject(0).getString("document")).as(mode).isEqualTo("zhiku-facts.txt");
      assertThat(data.getJsonObject(0).getString("text")).contains("21001");
    }

    // the OpenAI client's extra-body mechanism names the knowledge base
    ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder()
        .model("tiny-chat").addUserMessage("控制器默认端口是多少？").maxCompletionTokens(4)
        .putAdditionalBodyProperty("knowledge_base", JsonValue.from(KB)).putAdditionalBodyProperty("top_k", JsonValue.from(2)).build());
    assertThat(c.choices()).hasSize(1);
    GenerationRequest seen = chat.requests.getLast();
    String prompt = seen.input().messages().getLast().content();
    assertThat(prompt).contains("已知信息").contains("21001").contains("控制器默认端口是多少？");

    // LangChain4j passes the knowledge base as a custom request parameter
    dev.langchain4j.model.openai.OpenAiChatModel lc = dev.langchain4j.model.openai.OpenAiChatModel.builder()
        .baseUrl(cluster.base() + "/v1").apiKey("none").modelName("tiny-chat").maxTokens(4)
        .defaultRequestParameters(dev.langchain4j.model.openai.OpenAiChatRequestParameters.builder()
            .customParameters(java.util.Map.of("knowledge_base", KB)).build())
        .build();
    lc.chat("知库服务默认监听哪个端口？");
    assertThat(chat.requests.getLast().input().messages().getLast().content()).contains("已知信息").contains("8000");

    // the sources come back in the response, and in the final chunk when streaming
    HttpResponse<String> raw = cluster.post("/v1/chat/completions", new JsonObject().put("model", "tiny-chat").put("max_tokens", 3)
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "控制器默认端口是多少？")))
        .put("knowledge_base", KB).encode());
    JsonArray sources = new JsonObject(raw.body()).getJsonArray("sources");
    assertThat(sources).isNotEmpty();
    assertThat(sources.getJsonObject(0).getString("document")).isEqualTo("zhiku-facts.txt");
    HttpResponse<String> streamed = cluster.post("/v1/chat/completions", new JsonObject().put("model", "tiny-chat").put("max_tokens", 3)
        .put("stream", true)
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "控制器默认端口是多少？"))).encode(),
        "x-knowledge-base", KB);
    List<String> events = SpineTest.sse(streamed.body());
    JsonObject last = new JsonObject(events.get(events.size() - 2));
    assertThat(last.getJsonArray("choices").getJsonObject(0).getString("finish_reason")).isNotNull();
    assertThat(last.getJsonArray("sources")).isNotEmpty();
  }

  @Test
  void aChineseNameRoundTripsThroughTheRoutes() throws Exception {
    String name = "产品手册 " + KB.substring(KB.length() - 4);
    String path = "/v1/knowledge_bases/" + java.net.URLEncoder.encode(name, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
    HttpResponse<String> created = cluster.post("/v1/knowledge_bases", new JsonObject().put("name", name).encode());
    assertThat(created.statusCode()).as(created.body()).isIn(200, 201);
    try {
      HttpResponse<String> doc = cluster.post(path + "/documents", new JsonObject().put("name", "说明书.txt").put("text", "产品的保修期是两年。").encode());
      assertThat(doc.statusCode()).as(doc.body()).isIn(200, 201);
      HttpResponse<String> got = cluster.get(path);
      assertThat(got.statusCode()).as(got.body()).isEqualTo(200);
      assertThat(new JsonObject(got.body()).getString("name")).isEqualTo(name);
      HttpResponse<String> hits = cluster.post(path + "/search", new JsonObject().put("query", "保修期").put("mode", "keyword").encode());
      assertThat(hits.statusCode()).as(hits.body()).isEqualTo(200);
      assertThat(hits.body()).contains("说明书.txt");
      assertError(cluster.post("/v1/knowledge_bases", new JsonObject().put("name", "坏/名字").encode()), 400, "name", null);
    } finally {
      cluster.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(cluster.base() + path)).DELETE().build(),
          HttpResponse.BodyHandlers.ofString());
    }
  }

  @Test
  void unknownKnowledgeBaseIs404() throws Exception {
    assertError(cluster.get("/v1/knowledge_bases/no_such_kb"), 404, null, "knowledge_base_not_found");
    assertError(cluster.post("/v1/chat/completions", new JsonObject().put("model", "tiny-chat")
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "x")))
        .put("knowledge_base", "no_such_kb").encode()), 404, null, "knowledge_base_not_found");
    assertError(cluster.post("/v1/knowledge_bases/no_such_kb/search", "{\"query\":\"x\",\"mode\":\"sideways\"}"), 400, "mode", null);
  }
}
