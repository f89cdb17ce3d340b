package ai.zhiku.launcher;

import ai.zhiku.api.ApiServerConfig;
import ai.zhiku.common.Flag;
import ai.zhiku.common.Flags;
import ai.zhiku.controller.ControllerConfig;
import ai.zhiku.worker.WorkerConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/** The flags of every command of bin/zhiku, declared once: the parser and --help both read these. */
public final class Commands {
  private Commands() {}

  public static final Flag CONTROLLER_PORT = Flag.integer("controller-port", 21001,
      "port of the in-process controller (0: any free port)");
  public static final Flag NO_DEFAULT_EMBEDDING = Flag.bool("no-default-embedding", "do not start the bundled embedding worker");
  public static final Flag NO_KB = Flag.bool("no-kb", "serve without knowledge bases (bin/zhiku then starts no database)");
  public static final Flag KEEP_DATABASE = Flag.bool("keep-database",
      "leave the private PostgreSQL that bin/zhiku serve started running after serve exits");

  public static Flags serve() {
    return Flags.builder("serve", """
            controller + api-server + one worker per model in one JVM, over real gRPC on loopback; bin/zhiku serve
            starts the private PostgreSQL for knowledge bases unless --kb-database-url or --no-kb is given""")
        .addAll(ApiServerConfig.FLAGS, "controller-address")
        .add(CONTROLLER_PORT, ControllerConfig.HEARTBEAT_EXPIRY, ControllerConfig.DISPATCH_METHOD)
        .addAll(WorkerConfig.FLAGS, "host", "port", "worker-address", "controller-address", "cluster-token")
        .replace(WorkerConfig.MODEL_PATH.asRepeatable().withHelp("a chat or embedding model to serve, each on its own worker"))
        .replace(WorkerConfig.MODEL_NAMES.asRepeatable().withHelp(
            "names a model is served as: with one --model-path all are its names; with several, one --model-names per "
                + "--model-path in the same order, or one name each (a,b)"))
        .add(NO_DEFAULT_EMBEDDING, NO_KB, KEEP_DATABASE, Flags.CONFIG, Flags.VERBOSE)
        .build();
  }

  public static Flags chat() {
    return ai.zhiku.inference.cli.ChatCommand.flags();
  }

  public static Flags benchEngine() {
    return Flags.builder("bench engine", "decode and prefill speed of the chat engine alone, on random weights of a model's shape")
        .add(Flag.text("shape", "internlm2-1.8b", "model shape of the random weights"),
            Flag.choice("dtype", "float32", "compute type", "float32", "bfloat16", "float16"),
            Flag.integer("layers", 0, "layers (0: the shape's)"),
            Flag.integer("prompt", 512, "prompt tokens"),
            Flag.integer("steps", 16, "decode steps measured"),
            Flag.integer("context", 16, "context tokens per sequence before decoding"),
            Flag.integer("threads", 2, "compute threads"),
            Flag.text("device", "cpu", "cpu, cuda or cuda:N"),
            Flag.of("seqs", Flag.Kind.LIST, "1,8", "batch sizes measured"),
            Flag.of("model-path", Flag.Kind.PATH, null, "a real checkpoint instead of random weights"),
            Flag.of("write-checkpoint", Flag.Kind.PATH, null, "write the random checkpoint to this directory"),
            Flag.choice("quantize", "none", "quantize the projections and head as the worker's --quantize does", "none", "int8", "int4"),
            Flag.integer("quantize-group-size", 128, "columns per quantization scale"))
        .build();
  }

  public static Flags benchGolden() {
    return Flags.builder("bench golden", "a golden checkpoint's cases (logits, greedy continuations) on a device and precision")
        .add(Flag.of("model-path", Flag.Kind.PATH, null, "a checkpoint directory with its golden.json (../shared/golden/NAME)"),
            Flag.text("device", "cpu", "cpu, cuda or cuda:N"),
            Flag.choice("dtype", "float32", "compute type", "float32", "bfloat16", "float16"),
            Flag.of("tolerance", Flag.Kind.NUMBER, null, "largest logit difference allowed (default 0.001 in float32, 0.25 otherwise)"))
        .build();
  }

  public static Flags benchGrammar() {
    return Flags.builder("bench grammar", "the cost of constrained decoding: mask time per step, constrained beside free sequences")
        .add(Flag.of("model-path", Flag.Kind.PATH, null, "a chat checkpoint directory with its tokenizer"),
            Flag.choice("dtype", "float32", "compute type", "float32", "bfloat16"),
            Flag.integer("seqs", 16, "sequences per batch (half of them constrained in the mixed batch)"),
            Flag.integer("tokens", 64, "tokens per sequence"),
            Flag.integer("threads", 2, "compute threads"))
        .build();
  }

  public static Flags benchServing() {
    return Flags.builder("bench serving", "HTTP and gRPC overhead of the serving path, over zero-compute engines")
        .add(Flag.of("seconds", Flag.Kind.SECONDS, "10", "seconds per point"),
            Flag.of("concurrency", Flag.Kind.LIST, "1,8,64", "concurrency levels"),
            Flag.integer("event-loops", Runtime.getRuntime().availableProcessors(), "server event loops").shownDefault("the cores"),
            Flag.of("token-interval-us", Flag.Kind.LONG, "0", "microseconds between the zero engine's tokens"),
            Flag.integer("embedding-dim", 8, "dimension of the zero embedding engine"))
        .build();
  }

  public static Flags benchEmbeddings() {
    return Flags.builder("bench embeddings", "embedding throughput of the bundled model, engine alone and through HTTP")
        .add(Flag.of("seconds", Flag.Kind.SECONDS, "10", "seconds per point"))
        .build();
  }

  public static Flags benchKb() {
    return Flags.builder("bench kb", "knowledge-base ingest and search on the seed corpus (needs ZHIKU_TEST_DATABASE_URL)")
        .positional("[CHUNKS [QUERIES [SEEDS_DIR [EVAL_FILE [bulk]]]]]")
        .build();
  }

  /** Every command with flags of its own, by the words that name it after bin/zhiku. */
  public static Map<String, Flags> all() {
    Map<String, Flags> m = new LinkedHashMap<>();
    m.put("serve", serve());
    m.put("controller", ControllerConfig.flags());
    m.put("worker", WorkerConfig.flags());
    m.put("api-server", ApiServerConfig.flags());
    m.put("chat", chat());
    m.put("kb ingest", ai.zhiku.kb.cli.KbCommand.flags("ingest"));
    m.put("kb eval", ai.zhiku.kb.cli.KbCommand.flags("eval"));
    m.put("bench engine", benchEngine());
    m.put("bench golden", benchGolden());
    m.put("bench grammar", benchGrammar());
    m.put("bench serving", benchServing());
    m.put("bench embeddings", benchEmbeddings());
    m.put("bench kb", benchKb());
    return m;
  }
}
