package ai.zhiku.launcher.bench;

import ai.zhiku.api.ApiServer;
import ai.zhiku.api.ApiServerConfig;
import ai.zhiku.common.Options;
import ai.zhiku.controller.ControllerConfig;
import ai.zhiku.controller.ControllerServer;
import ai.zhiku.worker.HostedModel;
import ai.zhiku.worker.WorkerConfig;
import ai.zhiku.worker.WorkerServer;
import io.vertx.core.Future;
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
    ControllerServer controller = new ControllerServer(server, new ControllerConfig("127.0.0.1", 0, 6000, "shortest_queue"));
    int controllerPort = await(controller.start());
    String ctrl = "http://127.0.0.1:" + controllerPort;
    WorkerConfig wc = WorkerConfig.defaults().local(ctrl, null, List.of("zero-chat")).withLimits(1024, 4096);
    WorkerServer chat = new WorkerServer(server, wc, new HostedModel.Chat(List.of("zero-chat"), ZeroComputeEngines.chat(64, intervalMicros)));
    await(chat.start());
    WorkerConfig we = WorkerConfig.defaults().local(ctrl, null, List.of("zero-embed")).withLimits(1024, 4096);
    WorkerServer embed = new WorkerServer(server, we, new HostedModel.Embedding(List.of("zero-embed"), ZeroComputeEngines.embedding(o.getInt("embedding-dim", 8))));
    await(embed.start());
    ApiServer api = new ApiServer(server, new ApiServerConfig("127.0.0.1", 0, ctrl, List.of(), List.of(), 8 << 20, 64 << 20, 1000,
        null, 2, "zero-embed"), null);
    int port = await(api.start());

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
    await(api.close());
    await(chat.close());
    await(embed.close());
    await(controller.close());
    server.close();
    System.exit(0);
  }

  private static void print(String load, LoadGenerator.Result r) {
    System.out.printf("| %s | %d | %.0f | %.1f | %.1f | %s | %s | %d |%n", load, r.concurrency(), r.rps(), r.p50Ms(), r.p99Ms(),
        r.chunks() == 0 ? "" : String.format("%.0f", r.chunks() / r.seconds()),
        r.firstChunkP50Ms() == 0 ? "" : String.format("%.1f", r.firstChunkP50Ms()), r.errors());
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get();
  }
}
