package ai.zhiku.launcher.bench;

import ai.zhiku.common.Options;
import ai.zhiku.common.engine.EmbedItem;
import ai.zhiku.common.engine.EmbeddingEngine;
import ai.zhiku.embeddings.EmbeddingEngineConfig;
import ai.zhiku.embeddings.EmbeddingEngineFactory;
import ai.zhiku.worker.HostedModel;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * `bin/zhiku bench embeddings`: texts/s of the bundled bge-small-zh-v1.5 for short (~20 characters)
 * and long (~500 characters) Chinese texts at concurrency 1 and 32, one text per request, through
 * the whole HTTP path and against the engine alone, side by side in one run.
 */
public final class EmbeddingHttpBenchmark {
  private EmbeddingHttpBenchmark() {}

  static final String SHORT = "今天天气很好，我们一起去公园散步吧。";
  static final String LONG_UNIT = "知识库问答系统把文档切分成段落，用向量模型编码后存入数据库，检索时把问题也编码成向量，找出最相近的段落交给大模型回答。";

  public static void main(String[] args) throws Exception {
    Options o = Options.parse(args);
    double seconds = o.getDouble("seconds", 10);
    String longText = LONG_UNIT.repeat(500 / LONG_UNIT.length() + 1).substring(0, 500);
    EmbeddingEngine engine = EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults());

    Vertx vertx = Vertx.vertx();
    InProcessStack stack = new InProcessStack(vertx, 256, 1024, "bge", new HostedModel.Embedding(List.of("bge"), engine));
    int port = stack.port();
    Vertx client = Vertx.vertx();

    System.out.printf("embedding benchmark: bge-small-zh-v1.5 (ONNX Runtime), %d s per point, %d cores%n", (int) seconds,
        Runtime.getRuntime().availableProcessors());
    System.out.println("| text | c | engine alone texts/s | HTTP path texts/s | HTTP / engine |");
    System.out.println("| --- | --- | --- | --- | --- |");
    for (String[] text : new String[][] {{"short (~20 chars)", SHORT}, {"long (~500 chars)", longText}}) {
      for (int c : new int[] {1, 32}) {
        engineAlone(engine, text[1], c, 2);  // warm-up
        double alone = engineAlone(engine, text[1], c, seconds);
        String body = new JsonObject().put("model", "bge").put("input", new JsonArray().add(text[1])).encode();
        LoadGenerator.run(client, port, "/v1/embeddings", body, c, 2, false);  // warm-up
        LoadGenerator.Result http = LoadGenerator.run(client, port, "/v1/embeddings", body, c, seconds, false);
        System.out.printf("| %s | %d | %.1f | %.1f | %.2f |%n", text[0], c, alone, http.rps(), http.rps() / alone);
      }
    }
    client.close();
    stack.close();
    vertx.close();
    System.exit(0);
  }

  /** {@code concurrency} threads, each embedding one text per call, back to back. */
  static double engineAlone(EmbeddingEngine engine, String text, int concurrency, double seconds) throws InterruptedException {
    AtomicLong done = new AtomicLong();
    long end = System.nanoTime() + (long) (seconds * 1e9);
    List<Thread> threads = new ArrayList<>();
    long start = System.nanoTime();
    for (int i = 0; i < concurrency; i++) {
      threads.add(Thread.ofVirtual().start(() -> {
        while (System.nanoTime() < end) {
          engine.embed(List.of(EmbedItem.text(text)), false, false).join();
          done.incrementAndGet();
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    return done.get() / ((System.nanoTime() - start) / 1e9);
  }
}
