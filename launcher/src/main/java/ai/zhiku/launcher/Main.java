package ai.zhiku.launcher;

import ai.zhiku.api.ApiServer;
import ai.zhiku.api.ApiServerConfig;
import ai.zhiku.common.Options;
import ai.zhiku.controller.ControllerConfig;
import ai.zhiku.controller.ControllerServer;
import ai.zhiku.worker.HostedModel;
import ai.zhiku.worker.ModelLoader;
import ai.zhiku.worker.WorkerConfig;
import ai.zhiku.worker.WorkerServer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Entry point of bin/zhiku: one subcommand per process kind, plus the all-in-one {@code serve}. */
public final class Main {
  private static final Logger log = LoggerFactory.getLogger(Main.class);

  private static final String USAGE = """
      usage: bin/zhiku <command> [flags]

        serve        controller + api-server + workers in one JVM (default: the bundled embedding model)
                     --port 8000 --host 127.0.0.1 --model-path DIR (repeatable) --model-names a,b
                     --api-keys k1,k2 --kb-database-url JDBC_URL --no-default-embedding --config FILE.yaml
        controller   --host --port 21001 --heartbeat-expiry 6 --dispatch-method shortest_queue|lottery
        worker       --host --port 21002 --controller-address http://H:21001 --worker-address http://H:21002
                     --model-path DIR --model-names a,b --device cpu|cuda --dtype auto|float32|bfloat16|float16
                     --limit-worker-concurrency 64 --max-queue 256 --max-num-seqs 64 --kv-cache-memory 0.4|8GiB
                     --truncate-embeddings
        api-server   --host --port 8000 --controller-address http://H:21001 --api-keys k1,k2 --kb-database-url URL
        chat         --model-path DIR   terminal chat with a local chat model
        kb           ingest DIR --kb NAME | eval FILE --kb NAME
        bench        engine | golden | embeddings | serving | kb
      Every flag can also come from a YAML file (--config) or the environment (ZHIKU_MODEL_PATH for --model-path).
      """;

  /** Exit status of a worker whose engine failed (EX_SOFTWARE). */
  static final int ENGINE_FAILED = 70;

  private Main() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
      System.out.print(USAGE);
      return;
    }
    String command = args[0];
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    if (Arrays.asList(rest).contains("--help")) {
      System.out.print(USAGE);
      return;
    }
    try {
      switch (command) {
        case "serve" -> onShutdown(serve(Options.parse(rest))::close);
        case "controller" -> controller(Options.parse(rest));
        case "worker" -> worker(Options.parse(rest));
        case "api-server" -> apiServer(Options.parse(rest));
        case "chat" -> delegate("ai.zhiku.inference.cli.ChatCommand", rest);
        case "kb" -> delegate("ai.zhiku.kb.cli.KbCommand", rest);
        case "bench" -> bench(rest);
        default -> {
          System.err.println("unknown command '" + command + "'\n" + USAGE);
          System.exit(2);
        }
      }
    } catch (IllegalArgumentException e) {
      System.err.println("zhiku " + command + ": " + e.getMessage());
      System.exit(2);
    }
  }

  private static void bench(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: bin/zhiku bench engine|golden|embeddings|serving|kb [flags]");
      System.exit(2);
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    switch (args[0]) {
      case "engine" -> delegate("ai.zhiku.inference.bench.EngineBenchmark", rest);
      case "golden" -> delegate("ai.zhiku.inference.bench.GoldenCheck", rest);
      case "embeddings" -> delegate("ai.zhiku.launcher.bench.EmbeddingHttpBenchmark", rest);
      case "serving" -> delegate("ai.zhiku.launcher.bench.ServingBenchmark", rest);
      case "kb" -> delegate("ai.zhiku.kb.bench.KbBenchmark", rest);
      default -> {
        System.err.println("unknown benchmark '" + args[0] + "': engine, golden, embeddings, serving or kb");
        System.exit(2);
      }
    }
  }

  /** Runs another module's command-line entry point. */
  private static void delegate(String className, String[] args) throws Exception {
    Class.forName(className).getMethod("main", String[].class).invoke(null, (Object) args);
  }

  static Vertx vertx() {
    return Vertx.vertx();
  }

  private static void await(Future<?> f) throws Exception {
    f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.MINUTES);
  }

  private static void controller(Options o) throws Exception {
    Vertx vertx = vertx();
    ControllerServer server = new ControllerServer(vertx, ControllerConfig.from(o));
    await(server.start());
    onShutdown(() -> {
      await(server.close());
      await(vertx.close());
    });
  }

  private static void worker(Options o) throws Exception {
    WorkerConfig config = WorkerConfig.from(o);
    HostedModel model = ModelLoader.load(config);
    Vertx vertx = vertx();
    WorkerServer server = new WorkerServer(vertx, config, model);
    // a standalone worker whose engine failed exits for its supervisor (systemd, Kubernetes) to restart it
    server.onEngineFailure(() -> {
      log.error("exiting with status {} so that the worker is restarted: {}", ENGINE_FAILED, server.unhealthy());
      System.exit(ENGINE_FAILED);
    });
    await(server.start());
    onShutdown(() -> {
      await(server.close());
      await(vertx.close());
    });
  }

  private static void apiServer(Options o) throws Exception {
    ApiServerConfig config = ApiServerConfig.from(o);
    Vertx vertx = vertx();
    ApiServer server = new ApiServer(vertx, config, KbWiring.create(vertx, config));
    await(server.start());
    onShutdown(() -> {
      await(server.close());
      await(vertx.close());
    });
  }

  /**
   * All-in-one: a controller on loopback, one worker per model, and the api-server, in one JVM and
   * one Vert.x instance, talking real gRPC over loopback exactly as separate processes would.
   */
  /** A running all-in-one: the api-server's port and how to stop everything. */
  public record Serving(int port, Closer closer) {
    /** Stops everything and waits for it; call from a thread that is not one of Vert.x's. */
    public void close() throws Exception {
      closer.close();
    }
  }

  /** A blocking shutdown step. */
  @FunctionalInterface
  public interface Closer {
    void close() throws Exception;
  }

  public static Serving serve(Options o) throws Exception {
    Vertx vertx = vertx();
    int controllerPort = o.getInt("controller-port", 21001);
    ControllerServer controller = new ControllerServer(vertx, new ControllerConfig("127.0.0.1", controllerPort,
        Math.round(o.getDouble("heartbeat-expiry", 6.0) * 1000), o.get("dispatch-method", "shortest_queue")));
    int boundController = controller.start().toCompletionStage().toCompletableFuture().get();
    String controllerAddress = "http://127.0.0.1:" + boundController;

    List<WorkerConfig> workerConfigs = new ArrayList<>();
    List<String> paths = o.all("model-path");
    List<String> names = o.all("model-names");
    if (!o.getBoolean("no-default-embedding", false)) {
      workerConfigs.add(workerConfig(o, null, List.of(), controllerAddress));
    }
    for (int i = 0; i < paths.size(); i++) {
      // --model-names applies to a single --model-path; with several, each is named after its directory
      List<String> n = paths.size() == 1 ? names : List.of();
      workerConfigs.add(workerConfig(o, Path.of(paths.get(i)), n, controllerAddress));
    }
    List<WorkerServer> workers = new ArrayList<>();
    for (WorkerConfig wc : workerConfigs) {
      WorkerServer w = new WorkerServer(vertx, wc, ModelLoader.load(wc));
      await(w.start());
      workers.add(w);
    }
    ApiServerConfig apiConfig = ApiServerConfig.from(o).withControllerAddress(controllerAddress);
    ApiServer api = new ApiServer(vertx, apiConfig, KbWiring.create(vertx, apiConfig));
    int port = api.start().toCompletionStage().toCompletableFuture().get();
    System.err.printf("zhiku is serving %d model(s) at http://%s:%d/v1%n", workers.size(), apiConfig.host(), port);
    return new Serving(port, () -> {
      // api-server first (no new requests), then workers deregister and drain, then the controller;
      // Vert.x itself is closed from this thread, never from one of its own
      Future<Void> f = api.close();
      for (WorkerServer w : workers) {
        f = f.compose(v -> w.close());
      }
      await(f.compose(v -> controller.close()));
      await(vertx.close());
    });
  }

  private static WorkerConfig workerConfig(Options o, Path modelPath, List<String> names, String controllerAddress) {
    return WorkerConfig.from(o).local(controllerAddress, modelPath, names);
  }

  private static void onShutdown(Closer close) {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      log.info("shutting down");
      try {
        close.close();
      } catch (Exception e) {
        log.warn("shutdown did not finish cleanly: {}", e.toString());
      }
    }, "zhiku-shutdown"));
  }
}
