package ai.zhiku.launcher.bench;

import ai.zhiku.common.Options;
import ai.zhiku.worker.HostedModel;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.util.List;

/**
 * `bin/zhiku bench serving`: the serving layer alone (api-server + controller + worker over real
 * gRPC on loopback) with zero-compute engines, under the anchor's load: chat non-streaming and
 * streaming (64 tokens, one SSE chunk each) and embeddings with 16 inputs, at concurrency 1, 8, 64.
 */
public final class ServingBenchmark {
  private ServingBenchmark() {}

  public static void main(String[] args) throws Exception {
    Options o = Options.parse(args);
    double seconds = o.getDouble("seconds", 10);
    List<String> levels = o.all("concurrency").isEmpty() ? List.of("1", "8", "64") : o.all("concurrency");
    int eventLoops = o.getInt("event-loops", Runtime.getRuntime().availableProcessors());
    long intervalMicros = o.getLong("token-interval-us", 0);
    Vertx server = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(eventLoops));
    InProcessStack stack = new InProcessStack(server, 1024, 4096, "zero-embed",
        new HostedModel.Chat(List.of("zero-chat"), ZeroComputeEngines.chat(64, intervalMicros)),
        new HostedModel.Embedding(List.of("zero-embed"), ZeroComputeEngines.embedding(o.getInt("embedding-dim", 8))));
    int port = stack.port();

    Vertx client = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
    String chatBody = "{\"model\":\"zero-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":64}";
    String streamBody = chatBody.replace("}", ",\"stream\":true}").replace("]},\"stream", "],\"stream");
    StringBuilder inputs = new StringBuilder();
    for (int i = 0; i < 16; i++) {
      inputs.append(i == 0 ? "" : ",").append("\"今天天气很好，适合出去走走 ").append(i).append('"');
    }
    String embedBody = "{\"model\":\"zero-embed\",\"input\":[" + inputs + "]}";
    // warm-up: JIT and connections
    LoadGenerator.run(client, port, "/v1/chat/completions", chatBody, 8, 3, false);
    LoadGenerator.run(client, port, "/v1/chat/completions", streamBody, 8, 2, true);
    LoadGenerator.run(client, port, "/v1/embeddings", embedBody, 8, 2, false);
    System.out.printf("serving benchmark: %d s per point, server event loops %d, %d cores, tokens %s%n", (int) seconds, eventLoops,
        Runtime.getRuntime().availableProcessors(), intervalMicros == 0 ? "all at once" : "one every " + intervalMicros + " us");
    System.out.println("| load | c | req/s | p50 ms | p99 ms | SSE chunks/s | first chunk p50 ms | errors |");
    System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (String level : levels) {
      int c = Integer.parseInt(level);
      print("chat, non-streaming", LoadGenerator.run(client, port, "/v1/chat/completions", chatBody, c, seconds, false));
      print("chat, streaming", LoadGenerator.run(client, port, "/v1/chat/completions", streamBody, c, seconds, true));
      print("embeddings x16", LoadGenerator.run(client, port, "/v1/embeddings", embedBody, c, seconds, false));
    }
    client.close();
    stack.close();
    server.close();
    System.exit(0);
  }

  private static void print(String load, LoadGenerator.Result r) {
    System.out.printf("| %s | %d | %.0f | %.1f | %.1f | %s | %s | %d |%n", load, r.concurrency(), r.rps(), r.p50Ms(), r.p99Ms(),
        r.chunks() == 0 ? "" : String.format("%.0f", r.chunks() / r.seconds()),
        r.firstChunkP50Ms() == 0 ? "" : String.format("%.1f", r.firstChunkP50Ms()), r.errors());
  }
}
