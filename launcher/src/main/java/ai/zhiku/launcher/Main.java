package ai.zhiku.launcher;

import ai.zhiku.api.ApiServer;
import ai.zhiku.api.ApiServerConfig;
import ai.zhiku.common.Flags;
import ai.zhiku.common.Options;
import ai.zhiku.controller.ControllerConfig;
import ai.zhiku.controller.ControllerServer;
import ai.zhiku.worker.ModelLoader;
import ai.zhiku.worker.WorkerConfig;
import ai.zhiku.worker.WorkerServer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Entry point of bin/zhiku: one subcommand per process kind, plus the all-in-one {@code serve}. */
public final class Main {
  private static final Logger log = LoggerFactory.getLogger(Main.class);

  private static final String USAGE = """
      usage: bin/zhiku <command> [flags]      (bin/zhiku <command> --help lists a command's flags)

        serve        controller + api-server + workers in one JVM (default: the bundled embedding model)
        controller   registry of workers and dispatch
        worker       hosts one model and registers it with the controller
        api-server   the OpenAI-compatible HTTP API and knowledge bases
        chat         terminal chat with a local chat model
        kb           ingest DIR --kb NAME | eval FILE --kb NAME, against a running server
        bench        engine | golden | embeddings | serving | kb
        test         (bin/zhiku only) start the test database, then build and run every test
      """;

  /** Exit status of a worker whose engine failed (EX_SOFTWARE). */
  static final int ENGINE_FAILED = 70;

  private Main() {}

  public static void main(String[] args) {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
      System.out.print(USAGE);
      return;
    }
    String command = args[0];
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    boolean verbose = Arrays.asList(rest).contains("--verbose") || "true".equalsIgnoreCase(System.getenv("ZHIKU_VERBOSE"));
    int code = 0;
    try {
      code = run(command, rest);
    } catch (Throwable e) {
      code = StartupErrors.report("zhiku " + command, e, verbose);
    }
    if (code != 0) {
      System.exit(code);
    }
  }

  /** Runs one command; returns 0 when it started (servers keep running) or finished, else the exit code. */
  static int run(String command, String[] rest) throws Exception {
    switch (command) {
      case "serve" -> {
        Flags flags = Commands.serve();
        if (help(flags, rest)) {
          return 0;
        }
        Serving s = serve(flags.parse(rest));
        onShutdown(s::close);
      }
      case "controller" -> {
        Flags flags = ControllerConfig.flags();
        if (!help(flags, rest)) {
          controller(flags.parse(rest));
        }
      }
      case "worker" -> {
        Flags flags = WorkerConfig.flags();
        if (!help(flags, rest)) {
          worker(flags.parse(rest));
        }
      }
      case "api-server" -> {
        Flags flags = ApiServerConfig.flags();
        if (!help(flags, rest)) {
          apiServer(flags.parse(rest));
        }
      }
      case "chat" -> {
        return ai.zhiku.inference.cli.ChatCommand.run(rest);
      }
      case "kb" -> {
        return new ai.zhiku.kb.cli.KbCommand(System.out, System.err).run(rest);
      }
      case "bench" -> bench(rest);
      default -> {
        String hint = ai.zhiku.common.Suggest.closest(command, List.of("serve", "controller", "worker", "api-server", "chat", "kb", "bench"))
            .map(c -> "; did you mean " + c + "?").orElse("");
        System.err.println("zhiku: unknown command '" + command + "'" + hint + " (bin/zhiku --help lists them)");
        return 2;
      }
    }
    return 0;
  }

  private static boolean help(Flags flags, String[] args) {
    if (Flags.wantsHelp(args)) {
      System.out.print(flags.help());
      return true;
    }
    return false;
  }

  private static void bench(String[] args) throws Exception {
    String which = args.length == 0 ? "" : args[0];
    Flags flags = switch (which) {
      case "engine" -> Commands.benchEngine();
      case "golden" -> Commands.benchGolden();
      case "grammar" -> Commands.benchGrammar();
      case "embeddings" -> Commands.benchEmbeddings();
      case "serving" -> Commands.benchServing();
      case "kb" -> Commands.benchKb();
      default -> null;
    };
    if (flags == null) {
      if (which.equals("--help") || which.equals("-h")) {
        System.out.println("usage: bin/zhiku bench engine|golden|grammar|embeddings|serving|kb [flags]   (bin/zhiku bench engine --help ...)");
        return;
      }
      throw new IllegalArgumentException(which.isEmpty() ? "bench needs a benchmark: engine, golden, grammar, embeddings, serving or kb"
          : "unknown benchmark '" + which + "': engine, golden, grammar, embeddings, serving or kb");
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    if (help(flags, rest)) {
      return;
    }
    flags.parse(rest, java.util.Map.of()); // refuses unknown flags and bad values before the benchmark starts
    switch (which) {
      case "engine" -> ai.zhiku.inference.bench.EngineBenchmark.main(rest);
      case "golden" -> ai.zhiku.inference.bench.GoldenCheck.main(rest);
      case "grammar" -> ai.zhiku.inference.bench.GrammarBenchmark.main(rest);
      case "embeddings" -> ai.zhiku.launcher.bench.EmbeddingHttpBenchmark.main(rest);
      case "serving" -> ai.zhiku.launcher.bench.ServingBenchmark.main(rest);
      default -> ai.zhiku.kb.bench.KbBenchmark.main(rest);
    }
  }

  static Vertx vertx() {
    return Vertx.vertx();
  }

  private static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.MINUTES);
  }

  /** What a command opened so far, closed in reverse order when a later step fails or at shutdown. */
  private static final class Opened {
    private final Deque<Closer> stack = new ArrayDeque<>();

    void add(Closer c) {
      stack.push(c);
    }

    void closeAll() {
      while (!stack.isEmpty()) {
        try {
          stack.pop().close();
        } catch (Exception e) {
          log.debug("closing after a failed start: {}", e.toString());
        }
      }
    }
  }

  /** Listens, or fails with a sentence naming the port and the flag that sets it. */
  private static int listen(Future<Integer> started, String what, String host, int port, String flag) throws Exception {
    try {
      return await(started);
    } catch (java.util.concurrent.ExecutionException e) {
      throw StartupErrors.listenFailure(e.getCause(), what, host, port, flag);
    }
  }

  private static void controller(Options o) throws Exception {
    ControllerConfig config = ControllerConfig.from(o);
    Vertx vertx = vertx();
    Opened opened = new Opened();
    opened.add(() -> await(vertx.close()));
    try {
      ControllerServer server = new ControllerServer(vertx, config);
      listen(server.start(), "the controller", config.host(), config.port(), "--port");
      opened.add(() -> await(server.close()));
      onShutdown(opened::closeAll);
    } catch (Exception | Error e) {
      opened.closeAll();
      throw e;
    }
  }

  private static void worker(Options o) throws Exception {
    WorkerConfig config = WorkerConfig.from(o);
    Quiet.forDevice(config.device());
    Opened opened = new Opened();
    try {
      var model = ModelLoader.load(config);
      opened.add(model::close);
      Vertx vertx = vertx();
      opened.add(() -> await(vertx.close()));
      WorkerServer server = new WorkerServer(vertx, config, model);
      // a standalone worker whose engine failed exits for its supervisor (systemd, Kubernetes) to restart it
      server.onEngineFailure(() -> {
        log.error("exiting with status {} so that the worker is restarted: {}", ENGINE_FAILED, server.unhealthy());
        System.exit(ENGINE_FAILED);
      });
      int port = listen(server.start(), "the worker", config.host(), config.port(), "--port");
      opened.add(() -> await(server.close()));
      System.err.printf("zhiku worker: serving %s on %s:%d%n", model.names(), config.host(), port);
      onShutdown(opened::closeAll);
    } catch (Exception | Error e) {
      opened.closeAll();
      throw e;
    }
  }

  private static void apiServer(Options o) throws Exception {
    ApiServerConfig config = ApiServerConfig.from(o);
    Vertx vertx = vertx();
    Opened opened = new Opened();
    opened.add(() -> await(vertx.close()));
    try {
      ApiServer server = new ApiServer(vertx, config, KbWiring.create(vertx, config));
      listen(server.start(), "the api-server", config.host(), config.port(), "--port");
      opened.add(() -> await(server.close()));
      onShutdown(opened::closeAll);
    } catch (Exception | Error e) {
      opened.closeAll();
      throw e;
    }
  }

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

  /**
   * All-in-one: a controller on loopback, one worker per model, and the api-server, in one JVM and
   * one Vert.x instance, talking real gRPC over loopback exactly as separate processes would. A step
   * that fails closes what the earlier ones opened before the error propagates.
   */
  public static Serving serve(Options o) throws Exception {
    List<WorkerConfig> workerConfigs = workerConfigs(o);
    // the in-process components check each other's calls too: a port on loopback is open to every local user
    String clusterToken = serveClusterToken(o);
    ApiServerConfig apiBase = ApiServerConfig.from(o).withClusterToken(clusterToken);
    if (o.getBoolean(Commands.NO_KB)) {
      apiBase = apiBase.withoutKnowledgeBases();
    }
    Quiet.forDevice(workerConfigs.isEmpty() ? "cpu" : workerConfigs.getFirst().device());
    int controllerPort = o.getInt(Commands.CONTROLLER_PORT);
    ControllerConfig controllerConfig = new ControllerConfig("127.0.0.1", controllerPort,
        o.getMillis(ControllerConfig.HEARTBEAT_EXPIRY), o.get(ControllerConfig.DISPATCH_METHOD), ai.zhiku.common.ListenerTimeouts.from(o), clusterToken);

    Vertx vertx = vertx();
    Opened opened = new Opened();
    opened.add(() -> await(vertx.close()));
    try {
      ControllerServer controller = new ControllerServer(vertx, controllerConfig);
      int boundController = listen(controller.start(), "the controller", "127.0.0.1", controllerPort, "--controller-port");
      opened.add(() -> await(controller.close()));
      String controllerAddress = "http://127.0.0.1:" + boundController;
      System.err.printf("zhiku: controller on 127.0.0.1:%d%n", boundController);

      List<WorkerServer> workers = new ArrayList<>();
      for (WorkerConfig wc : workerConfigs) {
        WorkerConfig local = wc.local(controllerAddress, wc.modelPath(), wc.modelNames()).withClusterToken(clusterToken);
        var model = ModelLoader.load(local);
        WorkerServer w;
        try {
          w = new WorkerServer(vertx, local, model);
        } catch (RuntimeException e) {
          model.close();
          throw e;
        }
        opened.add(() -> await(w.close()));
        int port = listen(w.start(), "a worker", "127.0.0.1", 0, null);
        workers.add(w);
        System.err.printf("zhiku: worker for %s on 127.0.0.1:%d%n", model.names(), port);
      }
      ApiServerConfig apiConfig = apiBase.withControllerAddress(controllerAddress);
      ApiServer api = new ApiServer(vertx, apiConfig, KbWiring.create(vertx, apiConfig));
      int port = listen(api.start(), "the api-server", apiConfig.host(), apiConfig.port(), "--port");
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
    } catch (Exception | Error e) {
      opened.closeAll();
      throw e;
    }
  }

  /** {@code --cluster-token} when given, else a random one for this run of {@code serve}. */
  static String serveClusterToken(Options o) {
    String given = ai.zhiku.common.ClusterToken.from(o);
    return given != null ? given : ai.zhiku.common.ClusterToken.random();
  }

  /**
   * One worker per model: the bundled embedding model unless --no-default-embedding, then each
   * --model-path. With one path every --model-names value names it; with several, --model-names is
   * given once per path (paired in order) or once with one name per path.
   */
  static List<WorkerConfig> workerConfigs(Options o) {
    WorkerConfig base = WorkerConfig.from(o);
    List<String> paths = o.all(WorkerConfig.MODEL_PATH);
    List<List<String>> names = namesPerPath(paths, o.occurrences(WorkerConfig.MODEL_NAMES.name()));
    List<WorkerConfig> out = new ArrayList<>();
    if (!o.getBoolean(Commands.NO_DEFAULT_EMBEDDING)) {
      out.add(base.local(null, null, List.of()));
    }
    for (int i = 0; i < paths.size(); i++) {
      out.add(base.local(null, Path.of(paths.get(i)), names.get(i)));
    }
    return out;
  }

  static List<List<String>> namesPerPath(List<String> paths, List<String> occurrences) {
    List<List<String>> out = new ArrayList<>();
    List<List<String>> given = new ArrayList<>();
    for (String occurrence : occurrences) {
      given.add(Arrays.stream(occurrence.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList());
    }
    if (given.isEmpty()) {
      paths.forEach(p -> out.add(List.of()));
    } else if (paths.isEmpty()) {
      throw new IllegalArgumentException("--model-names needs a --model-path to name");
    } else if (paths.size() == 1) {
      out.add(given.stream().flatMap(List::stream).toList());
    } else if (given.size() == paths.size()) {
      out.addAll(given);
    } else if (given.size() == 1 && given.getFirst().size() == paths.size()) {
      given.getFirst().forEach(n -> out.add(List.of(n)));
    } else {
      throw new IllegalArgumentException("--model-names: " + given.stream().mapToInt(List::size).sum() + " name(s) in "
          + given.size() + " --model-names for " + paths.size() + " --model-path; give one --model-names per --model-path in the "
          + "same order (--model-path A --model-names a --model-path B --model-names b), or one name per path (--model-names a,b)");
    }
    return out;
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
