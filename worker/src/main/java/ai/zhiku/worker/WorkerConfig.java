package ai.zhiku.worker;

import ai.zhiku.common.Flag;
import ai.zhiku.common.Flag.Kind;
import ai.zhiku.common.Flags;
import ai.zhiku.common.Options;
import ai.zhiku.inference.model.Quantization;
import java.nio.file.Path;
import java.util.List;

/**
 * A worker's settings (FastChat-like flag names).
 *
 * @param workerAddress the address the controller and api-server use to reach this worker
 *     (default http://host:port once bound)
 * @param controllerAddress null: do not register (a standalone worker)
 * @param modelPath null: the bundled default embedding model
 * @param limitWorkerConcurrency requests served at once; more wait in a queue of {@code maxQueue}
 * @param truncateEmbeddings cut over-long embedding input to the model's limit instead of refusing it
 * @param kvCacheMemory the chat engine's paged KV cache memory ({@code --kv-cache-memory}), null for the default
 * @param kvCacheDtype what the KV cache stores ({@code --kv-cache-dtype}: auto, float32, float16, bfloat16)
 * @param prefixCaching share the KV blocks of common prefixes ({@code --no-prefix-caching} turns it off)
 * @param maxTokensDefault max_tokens of a request that gives none is the context left after its prompt, at most
 *     this ({@code --max-tokens-default}; 0: no cap)
 * @param maxBodyBytes the largest HTTP body the api-servers in front of this worker accept
 *     ({@code --max-body-bytes}, the same flag and default as theirs); the gRPC request limit is
 *     derived from it ({@link ai.zhiku.common.GrpcLimits#requestBytes})
 * @param timeouts header, body and idle timeouts of its port ({@code --header-timeout} and the others)
 */
public record WorkerConfig(
    String host,
    int port,
    String workerAddress,
    String controllerAddress,
    Path modelPath,
    List<String> modelNames,
    String device,
    String dtype,
    String chatTemplate,
    int limitWorkerConcurrency,
    int maxQueue,
    int maxNumSeqs,
    long heartbeatIntervalMs,
    double speed,
    int embeddingMaxBatch,
    long embeddingMaxWaitMicros,
    boolean truncateEmbeddings,
    long shutdownGraceMs,
    long maxBodyBytes,
    String kvCacheMemory,
    int maxTokensDefault,
    String kvCacheDtype,
    boolean prefixCaching,
    ai.zhiku.common.ListenerTimeouts timeouts,
    String clusterToken,
    ai.zhiku.inference.model.Quantization quantization) {

  public static final Flag HOST = Flag.text("host", "127.0.0.1", "address to listen on (gRPC, /health and /metrics share the port)");
  public static final Flag PORT = Flag.integer("port", 21002, "port to listen on (0: any free port)");
  public static final Flag WORKER_ADDRESS = Flag.of("worker-address", Kind.URL, null,
      "how the controller and api-servers reach this worker").shownDefault("http://HOST:PORT");
  public static final Flag CONTROLLER_ADDRESS = Flag.of("controller-address", Kind.URL, "http://127.0.0.1:21001",
      "the controller to register with (empty: do not register)");
  public static final Flag MODEL_PATH = Flag.of("model-path", Kind.PATH, null,
      "Hugging Face model directory (config.json and weights) or ONNX export (model.onnx)")
      .shownDefault("the bundled bge-small-zh-v1.5");
  public static final Flag MODEL_NAMES = Flag.of("model-names", Kind.LIST, null, "names the model is served as")
      .shownDefault("the directory's name");
  public static final Flag DEVICE = Flag.text("device", "cpu", "cpu, cuda or cuda:N");
  public static final Flag DTYPE = Flag.choice("dtype", "auto",
      "compute type; auto is bfloat16 on CPUs with AVX512-BF16 or AMX, float32 on other CPUs, float16 on CUDA",
      "auto", "float32", "bfloat16", "float16");
  public static final Flag CHAT_TEMPLATE = Flag.text("chat-template", null, "chat template name")
      .shownDefault("the model family's").alias("conv-template");
  public static final Flag LIMIT_WORKER_CONCURRENCY = Flag.integer("limit-worker-concurrency", 64, "requests served at once");
  public static final Flag MAX_QUEUE = Flag.integer("max-queue", 256, "requests waiting beyond that; more get 429");
  public static final Flag MAX_NUM_SEQS = Flag.integer("max-num-seqs", ai.zhiku.inference.ChatEngineConfig.DEFAULT_MAX_NUM_SEQS,
      "sequences decoded together at most (continuous batching); a cap, not a memory reservation");
  public static final Flag KV_CACHE_MEMORY = Flag.of("kv-cache-memory", Kind.MEMORY, null,
      "memory of the paged KV cache: bytes (8GiB, 512m) or a fraction of the memory free once the weights are loaded")
      .shownDefault("0.4 on CPU, 4GiB on CUDA");
  public static final Flag KV_CACHE_DTYPE = Flag.choice("kv-cache-dtype", "auto",
      "what the KV cache stores: auto = the compute precision (bfloat16 when --dtype bfloat16 runs on the native kernel, "
          + "else the activation type)", "auto", "float32", "float16", "bfloat16");
  public static final Flag NO_PREFIX_CACHING = Flag.bool("no-prefix-caching",
      "do not share the KV blocks of a common prefix between requests (to measure what the prefix cache saves)");
  public static final Flag MAX_TOKENS_DEFAULT = Flag.integer("max-tokens-default", 2048,
      "max_tokens of a request that gives none: the context left after the prompt, at most this (0: no cap)");
  public static final Flag HEARTBEAT_INTERVAL = Flag.of("heartbeat-interval", Kind.SECONDS, "2", "seconds between heartbeats to the controller");
  public static final Flag SPEED = Flag.of("speed", Kind.NUMBER, "1.0", "relative speed, the weight of lottery dispatch");
  public static final Flag EMBEDDING_MAX_BATCH = Flag.integer("embedding-max-batch", 32, "inputs per embedding forward pass at most");
  public static final Flag EMBEDDING_MAX_WAIT_US = Flag.of("embedding-max-wait-us", Kind.LONG, "2000",
      "microseconds an embedding input waits for others to batch with");
  public static final Flag TRUNCATE_EMBEDDINGS = Flag.bool("truncate-embeddings",
      "cut over-long embedding input to the model's limit instead of answering 400");
  public static final Flag SHUTDOWN_GRACE = Flag.of("shutdown-grace", Kind.SECONDS, "10", "seconds running requests may finish at shutdown");
  public static final Flag MAX_BODY_BYTES = Flag.of("max-body-bytes", Kind.BYTES, Long.toString(ai.zhiku.common.GrpcLimits.DEFAULT_MAX_BODY_BYTES),
      "the api-servers' body limit; the gRPC request limit derives from it (give it the same value)").shownDefault("8MiB");
  // FastChat's names: mapped where they mean the same here, refused with the reason where not
  public static final Flag QUANTIZE = Flag.choice("quantize", "none",
      "quantize the projections and output head at load, weight-only with a scale per group (CPU)", "none", "int8", "int4");
  public static final Flag QUANTIZE_GROUP_SIZE = Flag.integer("quantize-group-size", Quantization.DEFAULT_GROUP,
      "columns per quantization scale (a multiple of 8; a matrix no such group divides stays bfloat16)");
  public static final Flag LOAD_8BIT = Flag.bool("load-8bit", "FastChat's name for --quantize int8");
  public static final Flag NUM_GPUS = Flag.integer("num-gpus", 1, "FastChat's: 1 only (a worker uses one device; start one worker per GPU)");
  public static final Flag GPUS = Flag.text("gpus", null, "FastChat's: one GPU index N, the same as --device cuda:N");
  public static final Flag MAX_GPU_MEMORY = Flag.text("max-gpu-memory", null,
      "FastChat's per-GPU weight budget: refused (weights load whole on one device; bound the KV cache with --kv-cache-memory)");

  /** Every flag of {@code bin/zhiku worker}, in --help order. */
  public static final List<Flag> FLAGS = List.of(HOST, PORT, WORKER_ADDRESS, CONTROLLER_ADDRESS, MODEL_PATH, MODEL_NAMES, DEVICE, DTYPE,
      CHAT_TEMPLATE, LIMIT_WORKER_CONCURRENCY, MAX_QUEUE, MAX_NUM_SEQS, KV_CACHE_MEMORY, KV_CACHE_DTYPE, NO_PREFIX_CACHING, MAX_TOKENS_DEFAULT, HEARTBEAT_INTERVAL, SPEED,
      EMBEDDING_MAX_BATCH, EMBEDDING_MAX_WAIT_US, TRUNCATE_EMBEDDINGS, SHUTDOWN_GRACE, MAX_BODY_BYTES,
      ai.zhiku.common.ListenerTimeouts.HEADER_TIMEOUT, ai.zhiku.common.ListenerTimeouts.BODY_TIMEOUT,
      ai.zhiku.common.ListenerTimeouts.IDLE_TIMEOUT, ai.zhiku.common.ClusterToken.FLAG, QUANTIZE, QUANTIZE_GROUP_SIZE, LOAD_8BIT, NUM_GPUS, GPUS, MAX_GPU_MEMORY);

  public static Flags flags() {
    return Flags.builder("worker", "hosts one model (chat or embedding) and registers it with the controller")
        .addAll(FLAGS).add(Flags.CONFIG, Flags.VERBOSE).build();
  }

  public WorkerConfig {
    modelNames = modelNames == null ? List.of() : List.copyOf(modelNames);
    timeouts = timeouts == null ? ai.zhiku.common.ListenerTimeouts.DEFAULTS : timeouts;
    if (limitWorkerConcurrency < 1) {
      throw new IllegalArgumentException("--limit-worker-concurrency must be at least 1");
    }
    if (maxQueue < 0) {
      throw new IllegalArgumentException("--max-queue must be 0 or more");
    }
    if (heartbeatIntervalMs < 50) {
      throw new IllegalArgumentException("--heartbeat-interval must be at least 0.05 seconds");
    }
    if (embeddingMaxBatch < 1) {
      throw new IllegalArgumentException("--embedding-max-batch must be at least 1");
    }
    if (maxBodyBytes < 1024) {
      throw new IllegalArgumentException("--max-body-bytes must be at least 1024");
    }
    if (device == null || !device.matches("cpu|cuda(:\\d+)?|gpu(:\\d+)?")) {
      throw new IllegalArgumentException("--device must be cpu, cuda or cuda:N, got '" + device + "'");
    }
    if (maxTokensDefault < 0) {
      throw new IllegalArgumentException("--max-tokens-default must be 0 (no cap) or more, got " + maxTokensDefault);
    }
    if (maxNumSeqs < 1 || maxNumSeqs > 1024) {
      throw new IllegalArgumentException("--max-num-seqs must be between 1 and 1024, got " + maxNumSeqs);
    }
  }

  public static WorkerConfig from(Options o) {
    String path = o.get(MODEL_PATH);
    return new WorkerConfig(
        o.get(HOST),
        o.getInt(PORT),
        o.get(WORKER_ADDRESS),
        o.get(CONTROLLER_ADDRESS),
        path == null ? null : Path.of(path),
        o.all(MODEL_NAMES),
        device(o),
        o.get(DTYPE),
        o.get(CHAT_TEMPLATE),
        o.getInt(LIMIT_WORKER_CONCURRENCY),
        o.getInt(MAX_QUEUE),
        o.getInt(MAX_NUM_SEQS),
        o.getMillis(HEARTBEAT_INTERVAL),
        o.getDouble(SPEED),
        o.getInt(EMBEDDING_MAX_BATCH),
        o.getLong(EMBEDDING_MAX_WAIT_US),
        o.getBoolean(TRUNCATE_EMBEDDINGS),
        o.getMillis(SHUTDOWN_GRACE),
        o.getBytes(MAX_BODY_BYTES),
        o.get(KV_CACHE_MEMORY),
        o.getInt(MAX_TOKENS_DEFAULT),
        o.get(KV_CACHE_DTYPE),
        !o.getBoolean(NO_PREFIX_CACHING),
        ai.zhiku.common.ListenerTimeouts.from(o),
        ai.zhiku.common.ClusterToken.from(o),
        quantization(o));
  }

  /** --quantize (FastChat's --load-8bit is int8), null for none. */
  private static Quantization quantization(Options o) {
    String q = o.get(QUANTIZE);
    if (o.getBoolean(LOAD_8BIT)) {
      if (!"none".equals(q) && !"int8".equals(q)) {
        throw new IllegalArgumentException("--load-8bit means --quantize int8, not --quantize " + q + ": give one of them");
      }
      q = "int8";
    }
    try {
      return Quantization.parse(q, o.getInt(QUANTIZE_GROUP_SIZE));
    } catch (ai.zhiku.common.ZhikuException e) {
      throw new IllegalArgumentException(e.getMessage());
    }
  }

  /**
   * --device, after FastChat's --gpus / --num-gpus; refuses what they ask for that a worker cannot do
   * (several GPUs, a per-GPU weight budget), each with its reason.
   */
  private static String device(Options o) {
    if (o.get(MAX_GPU_MEMORY) != null) {
      throw new IllegalArgumentException("--max-gpu-memory is not supported: a worker loads the weights whole on one device; "
          + "bound the KV cache with --kv-cache-memory instead");
    }
    int numGpus = o.getInt(NUM_GPUS);
    if (numGpus != 1) {
      throw new IllegalArgumentException("--num-gpus " + numGpus + ": a worker runs on one device (no tensor parallelism yet); "
          + "start one worker per GPU with --device cuda:0, cuda:1, ...");
    }
    String device = o.get(DEVICE);
    String gpus = o.get(GPUS);
    if (gpus != null) {
      if (!gpus.trim().matches("\\d+")) {
        throw new IllegalArgumentException("--gpus " + gpus + ": a worker runs on one GPU; give one index (--gpus 1 is --device cuda:1) "
            + "and start one worker per GPU");
      }
      if (o.has(DEVICE.name()) && !device.equals("cuda") && !device.equals("cuda:" + gpus.trim())) {
        throw new IllegalArgumentException("--gpus " + gpus + " contradicts --device " + device);
      }
      device = "cuda:" + gpus.trim();
    }
    return device;
  }

  /** Every flag at its default. */
  public static WorkerConfig defaults() {
    return from(Options.parse(new String[0], java.util.Map.of()));
  }

  /** An in-process worker: loopback, a random port, registering with {@code controllerAddress}. */
  public WorkerConfig local(String controllerAddress, Path modelPath, List<String> names) {
    return new WorkerConfig("127.0.0.1", 0, null, controllerAddress, modelPath, names, device, dtype, chatTemplate,
        limitWorkerConcurrency, maxQueue, maxNumSeqs, heartbeatIntervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncateEmbeddings, shutdownGraceMs, maxBodyBytes, kvCacheMemory, maxTokensDefault, kvCacheDtype, prefixCaching, timeouts, clusterToken, quantization);
  }

  public WorkerConfig withLimits(int limit, int queue) {
    return new WorkerConfig(host, port, workerAddress, controllerAddress, modelPath, modelNames, device, dtype, chatTemplate,
        limit, queue, maxNumSeqs, heartbeatIntervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncateEmbeddings, shutdownGraceMs, maxBodyBytes, kvCacheMemory, maxTokensDefault, kvCacheDtype, prefixCaching, timeouts, clusterToken, quantization);
  }

  public WorkerConfig withHeartbeat(long intervalMs, long graceMs) {
    return new WorkerConfig(host, port, workerAddress, controllerAddress, modelPath, modelNames, device, dtype, chatTemplate,
        limitWorkerConcurrency, maxQueue, maxNumSeqs, intervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncateEmbeddings, graceMs, maxBodyBytes, kvCacheMemory, maxTokensDefault, kvCacheDtype, prefixCaching, timeouts, clusterToken, quantization);
  }

  public WorkerConfig withTruncateEmbeddings(boolean truncate) {
    return new WorkerConfig(host, port, workerAddress, controllerAddress, modelPath, modelNames, device, dtype, chatTemplate,
        limitWorkerConcurrency, maxQueue, maxNumSeqs, heartbeatIntervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncate, shutdownGraceMs, maxBodyBytes, kvCacheMemory, maxTokensDefault, kvCacheDtype, prefixCaching, timeouts, clusterToken, quantization);
  }

  public WorkerConfig withMaxBodyBytes(long bytes) {
    return new WorkerConfig(host, port, workerAddress, controllerAddress, modelPath, modelNames, device, dtype, chatTemplate,
        limitWorkerConcurrency, maxQueue, maxNumSeqs, heartbeatIntervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncateEmbeddings, shutdownGraceMs, bytes, kvCacheMemory, maxTokensDefault, kvCacheDtype, prefixCaching, timeouts, clusterToken, quantization);
  }

  public WorkerConfig withTimeouts(ai.zhiku.common.ListenerTimeouts t) {
    return new WorkerConfig(host, port, workerAddress, controllerAddress, modelPath, modelNames, device, dtype, chatTemplate,
        limitWorkerConcurrency, maxQueue, maxNumSeqs, heartbeatIntervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncateEmbeddings, shutdownGraceMs, maxBodyBytes, kvCacheMemory, maxTokensDefault, kvCacheDtype, prefixCaching, t, clusterToken, quantization);
  }

  public WorkerConfig withClusterToken(String token) {
    return new WorkerConfig(host, port, workerAddress, controllerAddress, modelPath, modelNames, device, dtype, chatTemplate,
        limitWorkerConcurrency, maxQueue, maxNumSeqs, heartbeatIntervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncateEmbeddings, shutdownGraceMs, maxBodyBytes, kvCacheMemory, maxTokensDefault, kvCacheDtype, prefixCaching, timeouts, token, quantization);
  }

  /** Model names: as given, else the model directory's base name, else {@code fallback}. */
  public List<String> resolvedNames(String fallback) {
    if (!modelNames.isEmpty()) {
      return modelNames;
    }
    if (modelPath != null) {
      Path name = modelPath.toAbsolutePath().normalize().getFileName();
      if (name != null) {
        return List.of(name.toString());
      }
    }
    return List.of(fallback);
  }
}
