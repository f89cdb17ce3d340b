package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.embeddings.EmbeddingEngineConfig;
import ai.zhiku.embeddings.EmbeddingEngineFactory;
import ai.zhiku.worker.HostedModel;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import com.openai.models.models.Model;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The official OpenAI Java client against the server: a scripted chat worker and the real default
 * embedding model (bge-small-zh-v1.5 on ONNX Runtime) behind real gRPC.
 */
class OpenAiClientTest {
  static TestCluster cluster;
  static OpenAIClient client;

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000);
    cluster.addWorker(new HostedModel.Chat(List.of("tiny-chat"), new ScriptedChatEngine("tiny", 512, 1)), 8, 8);
    cluster.addWorker(new HostedModel.Embedding(List.of(EmbeddingEngineFactory.DEFAULT_MODEL_NAME),
        EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults())), 8, 64);
    cluster.truncateEmbeddings = true;
    cluster.addWorker(new HostedModel.Embedding(List.of("bge-truncating"), EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults())), 8, 64);
    cluster.truncateEmbeddings = false;
    cluster.startApi(List.of("sk-test"), 1 << 20);
    client = OpenAIOkHttpClient.builder().baseUrl(cluster.base() + "/v1").apiKey("sk-test").maxRetries(0).build();
  }

  @AfterAll
  static void stop() {
    client.close();
    cluster.close();
  }

  @Test
  void listsModels() {
    List<String> ids = client.models().list().data().stream().map(Model::id).toList();
    assertThat(ids).containsExactlyInAnyOrder("tiny-chat", "bge-small-zh-v1.5", "bge-truncating");
  }

  @Test
  void chat() {
    ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder()
        .model("tiny-chat").addSystemMessage("简洁").addUserMessage("你好").maxCompletionTokens(7).temperature(0.0).build());
    assertThat(c.choices()).hasSize(1);
    assertThat(c.choices().getFirst().message().content()).contains("tiny:你好");
    assertThat(c.choices().getFirst().finishReason().asString()).isEqualTo("length");
    assertThat(c.usage().orElseThrow().completionTokens()).isEqualTo(7);
  }

  @Test
  void streamingChat() {
    StringBuilder text = new StringBuilder();
    String[] finish = new String[1];
    try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(ChatCompletionCreateParams.builder()
        .model("tiny-chat").addUserMessage("流").maxCompletionTokens(7).build())) {
      stream.stream().forEach(chunk -> chunk.choices().forEach(choice -> {
        choice.delta().content().ifPresent(text::append);
        choice.finishReason().ifPresent(r -> finish[0] = r.asString());
      }));
    }
    assertThat(text.toString()).isEqualTo("tiny:流;");
    assertThat(finish[0]).isEqualTo("length");
  }

  @Test
  void unknownModelRaisesNotFound() {
    assertThatThrownBy(() -> client.chat().completions().create(ChatCompletionCreateParams.builder()
        .model("missing").addUserMessage("x").build())).isInstanceOf(NotFoundException.class).hasMessageContaining("does not exist");
  }

  @Test
  void embeddingsMatchTheGoldenOnnxRuntimeVectors() throws Exception {
    JsonObject golden = new JsonObject(java.nio.file.Files.readString(java.nio.file.Path.of(
        System.getProperty("zhiku.golden.dir"), "bge-small-zh-hf", "golden.json")));
    JsonArray cases = golden.getJsonArray("cases");
    JsonObject q1 = null;
    JsonObject p1 = null;
    for (int i = 0; i < cases.size(); i++) {
      JsonObject c = cases.getJsonObject(i);
      if (c.getString("name").equals("q1")) {
        q1 = c;
      } else if (c.getString("name").equals("p1")) {
        p1 = c;
      }
    }
    CreateEmbeddingResponse r = client.embeddings().create(EmbeddingCreateParams.builder()
        .model("bge-small-zh-v1.5").inputOfArrayOfStrings(List.of(q1.getString("text"), p1.getString("text"))).build());
    assertThat(r.data()).hasSize(2);
    assertThat(r.data().get(0).index()).isZero();
    assertThat(r.data().get(1).index()).isEqualTo(1);
    assertThat(cosine(r.data().get(0).embedding(), q1.getJsonArray("embedding"))).isGreaterThanOrEqualTo(0.9999);
    assertThat(cosine(r.data().get(1).embedding(), p1.getJsonArray("embedding"))).isGreaterThanOrEqualTo(0.9999);
    assertThat(r.usage().promptTokens()).isEqualTo(q1.getJsonArray("input_ids").size() + p1.getJsonArray("input_ids").size());
  }

  @Test
  void base64EmbeddingsDecodeToTheFloatVector() throws Exception {
    String body = "{\"model\":\"bge-small-zh-v1.5\",\"input\":[\"今天天气很好\"],\"encoding_format\":\"%s\"}";
    HttpResponse<String> asFloat = cluster.post("/v1/embeddings", body.formatted("float"), "authorization", "Bearer sk-test");
    HttpResponse<String> asBase64 = cluster.post("/v1/embeddings", body.formatted("base64"), "authorization", "Bearer sk-test");
    JsonArray floats = new JsonObject(asFloat.body()).getJsonArray("data").getJsonObject(0).getJsonArray("embedding");
    byte[] raw = Base64.getDecoder().decode(new JsonObject(asBase64.body()).getJsonArray("data").getJsonObject(0).getString("embedding"));
    ByteBuffer buf = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
    assertThat(raw.length).isEqualTo(512 * 4);
    for (int i = 0; i < 512; i++) {
      assertThat(buf.getFloat()).isEqualTo(floats.getNumber(i).floatValue());
    }
  }

  @Test
  void embeddingErrors() {
    assertThatThrownBy(() -> client.embeddings().create(EmbeddingCreateParams.builder().model("bge-small-zh-v1.5").input("").build()))
        .isInstanceOf(BadRequestException.class);
    assertThatThrownBy(() -> client.embeddings().create(EmbeddingCreateParams.builder().model("bge-small-zh-v1.5").input("x").dimensions(64).build()))
        .isInstanceOf(BadRequestException.class).hasMessageContaining("dimensions");
    assertThatThrownBy(() -> client.embeddings().create(EmbeddingCreateParams.builder().model("tiny-chat").input("x").build()))
        .isInstanceOf(BadRequestException.class);
  }

  @Test
  void overLongEmbeddingInputIs400WithTheCount() throws Exception {
    HttpResponse<String> r = cluster.post("/v1/embeddings", "{\"model\":\"bge-small-zh-v1.5\",\"input\":\"" + "长".repeat(700) + "\"}",
        "authorization", "Bearer sk-test");
    SpineTest.assertError(r, 400, "input", null);
    assertThat(new JsonObject(r.body()).getJsonObject("error").getString("message")).contains("512").contains("702");

    // a worker started with --truncate-embeddings cuts the input to 512 tokens instead
    HttpResponse<String> cut = cluster.post("/v1/embeddings", "{\"model\":\"bge-truncating\",\"input\":\"" + "长".repeat(700) + "\"}",
        "authorization", "Bearer sk-test");
    assertThat(cut.statusCode()).as(cut.body()).isEqualTo(200);
    assertThat(new JsonObject(cut.body()).getJsonObject("usage").getInteger("prompt_tokens")).isEqualTo(512);
  }

  static double cosine(List<? extends Number> a, JsonArray b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.size(); i++) {
      double x = a.get(i).doubleValue();
      double y = b.getNumber(i).doubleValue();
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    return dot / Math.sqrt(na * nb);
  }
}
