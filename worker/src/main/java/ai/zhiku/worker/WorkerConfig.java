package ai.zhiku.worker;

import ai.zhiku.common.Options;
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
    ai.zhiku.common.ListenerTimeouts timeouts) {

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
  }

  public static WorkerConfig from(Options o) {
    String path = o.get("model-path", null);
    return new WorkerConfig(
        o.get("host", "127.0.0.1"),
        o.getInt("port", 21002),
        o.get("worker-address", null),
        o.get("controller-address", "http://127.0.0.1:21001"),
        path == null ? null : Path.of(path),
        o.all("model-names"),
        o.get("device", "cpu"),
        o.get("dtype", "auto"),
        o.get("chat-template", null),
        o.getInt("limit-worker-concurrency", 64),
        o.getInt("max-queue", 256),
        o.getInt("max-num-seqs", ai.zhiku.inference.ChatEngineConfig.DEFAULT_MAX_NUM_SEQS),
        Math.round(o.getDouble("heartbeat-interval", 2.0) * 1000),
        o.getDouble("speed", 1.0),
        o.getInt("embedding-max-batch", 32),
        o.getLong("embedding-max-wait-us", 2000),
        o.getBoolean("truncate-embeddings", false),
        Math.round(o.getDouble("shutdown-grace", 10.0) * 1000),
        o.getLong("max-body-bytes", ai.zhiku.common.GrpcLimits.DEFAULT_MAX_BODY_BYTES),
        o.get("kv-cache-memory", null),
        ai.zhiku.common.ListenerTimeouts.from(o));
  }

  /** Every flag at its default. */
  public static WorkerConfig defaults() {
    return from(Options.parse(new String[0], java.util.Map.of()));
  }

  /** An in-process worker: loopback, a random port, registering with {@code controllerAddress}. */
  public WorkerConfig local(String controllerAddress, Path modelPath, List<String> names) {
    return new WorkerConfig("127.0.0.1", 0, null, controllerAddress, modelPath, names, device, dtype, chatTemplate,
        limitWorkerConcurrency, maxQueue, maxNumSeqs, heartbeatIntervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncateEmbeddings, shutdownGraceMs, maxBodyBytes, kvCacheMemory, timeouts);
  }

  public WorkerConfig withLimits(int limit, int queue) {
    return new WorkerConfig(host, port, workerAddress, controllerAddress, modelPath, modelNames, device, dtype, chatTemplate,
        limit, queue, maxNumSeqs, heartbeatIntervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncateEmbeddings, shutdownGraceMs, maxBodyBytes, kvCacheMemory, timeouts);
  }

  public WorkerConfig withHeartbeat(long intervalMs, long graceMs) {
    return new WorkerConfig(host, port, workerAddress, controllerAddress, modelPath, modelNames, device, dtype, chatTemplate,
        limitWorkerConcurrency, maxQueue, maxNumSeqs, intervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncateEmbeddings, graceMs, maxBodyBytes, kvCacheMemory, timeouts);
  }

  public WorkerConfig withTruncateEmbeddings(boolean truncate) {
    return new WorkerConfig(host, port, workerAddress, controllerAddress, modelPath, modelNames, device, dtype, chatTemplate,
        limitWorkerConcurrency, maxQueue, maxNumSeqs, heartbeatIntervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncate, shutdownGraceMs, maxBodyBytes, kvCacheMemory, timeouts);
  }

  public WorkerConfig withMaxBodyBytes(long bytes) {
    return new WorkerConfig(host, port, workerAddress, controllerAddress, modelPath, modelNames, device, dtype, chatTemplate,
        limitWorkerConcurrency, maxQueue, maxNumSeqs, heartbeatIntervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncateEmbeddings, shutdownGraceMs, bytes, kvCacheMemory, timeouts);
  }

  public WorkerConfig withTimeouts(ai.zhiku.common.ListenerTimeouts t) {
    return new WorkerConfig(host, port, workerAddress, controllerAddress, modelPath, modelNames, device, dtype, chatTemplate,
        limitWorkerConcurrency, maxQueue, maxNumSeqs, heartbeatIntervalMs, speed, embeddingMaxBatch, embeddingMaxWaitMicros,
        truncateEmbeddings, shutdownGraceMs, maxBodyBytes, kvCacheMemory, t);
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
