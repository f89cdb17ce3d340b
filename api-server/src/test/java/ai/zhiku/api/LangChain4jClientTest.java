package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.embeddings.EmbeddingEngineConfig;
import ai.zhiku.embeddings.EmbeddingEngineFactory;
import ai.zhiku.worker.HostedModel;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiEmbeddingModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** LangChain4j's OpenAI module pointed at the server: chat, streaming chat and embeddings. */
class LangChain4jClientTest {
  static TestCluster cluster;

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000);
    cluster.addWorker(new HostedModel.Chat(List.of("tiny-chat"), new ScriptedChatEngine("lc", 512, 1)), 8, 8);
    cluster.addWorker(new HostedModel.Embedding(List.of(EmbeddingEngineFactory.DEFAULT_MODEL_NAME),
        EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults())), 8, 64);
    cluster.startApi(List.of("sk-lc"), 1 << 20);
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  @Test
  void chat() {
    OpenAiChatModel model = OpenAiChatModel.builder().baseUrl(cluster.base() + "/v1").apiKey("sk-lc").modelName("tiny-chat")
        .maxTokens(8).temperature(0.0).build();
    assertThat(model.chat("问候")).isEqualTo("lc:问候;lc");
  }

  @Test
  void streamingChat() throws Exception {
    OpenAiStreamingChatModel model = OpenAiStreamingChatModel.builder().baseUrl(cluster.base() + "/v1").apiKey("sk-lc")
        .modelName("tiny-chat").maxTokens(6).build();
    StringBuilder partial = new StringBuilder();
    CompletableFuture<ChatResponse> done = new CompletableFuture<>();
    model.chat("流式", new StreamingChatResponseHandler() {
      @Override
      public void onPartialResponse(String token) {
        partial.append(token);
      }

      @Override
      public void onCompleteResponse(ChatResponse response) {
        done.complete(response);
      }

      @Override
      public void onError(Throwable error) {
        done.completeExceptionally(error);
      }
    });
    ChatResponse response = done.get(30, TimeUnit.SECONDS);
    assertThat(partial.toString()).isEqualTo("lc:流式;");
    assertThat(response.aiMessage().text()).isEqualTo("lc:流式;");
  }

  @Test
  void embeddings() {
    OpenAiEmbeddingModel model = OpenAiEmbeddingModel.builder().baseUrl(cluster.base() + "/v1").apiKey("sk-lc")
        .modelName("bge-small-zh-v1.5").build();
    List<Embedding> vectors = model.embedAll(List.of(
        dev.langchain4j.data.segment.TextSegment.from("今天天气很好"),
        dev.langchain4j.data.segment.TextSegment.from("今天天气不错"),
        dev.langchain4j.data.segment.TextSegment.from("股票市场大跌"))).content();
    assertThat(vectors).hasSize(3);
    assertThat(vectors.getFirst().dimension()).isEqualTo(512);
    double similar = cosine(vectors.get(0).vector(), vectors.get(1).vector());
    double unrelated = cosine(vectors.get(0).vector(), vectors.get(2).vector());
    assertThat(similar).isGreaterThan(unrelated + 0.1);
  }

  static double cosine(float[] a, float[] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }
}
