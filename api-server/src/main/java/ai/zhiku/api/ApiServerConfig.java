package ai.zhiku.api;

import ai.zhiku.common.ClusterToken;
import ai.zhiku.common.Flag;
import ai.zhiku.common.Flag.Kind;
import ai.zhiku.common.Flags;
import ai.zhiku.common.ListenerTimeouts;
import ai.zhiku.common.Options;
import java.util.List;

/**
 * The api-server's settings.
 *
 * @param apiKeys empty: no authentication
 * @param corsOrigins browser origins allowed besides the server's own; empty: pages on localhost only;
 *     {@code *}: any ({@link CorsPolicy})
 * @param maxBodyBytes request bodies above this get 413 (document uploads have their own limit)
 * @param controllerPollMs how often the worker table is fetched from the controller ({@code --controller-poll-interval})
 * @param kbDatabaseUrl JDBC URL of the knowledge-base database; null: knowledge bases are off
 * @param modelRetentionMs a model served within this long and now without workers is a 503 (retry), not a
 *     404 ({@code --model-retention})
 * @param clusterToken the secret its gRPC calls carry ({@link ClusterToken}); null: none
 * @param apiKeysFile a file of hashed keys with scopes ({@link ApiKeys}); null: none
 * @param metricsOpen /metrics without a key even when keys are configured
 * @param timeouts header, body and idle timeouts of the HTTP port ({@code --header-timeout} and the others)
 */
public record ApiServerConfig(
    String host,
    int port,
    String controllerAddress,
    List<String> apiKeys,
    List<String> corsOrigins,
    long maxBodyBytes,
    long maxUploadBytes,
    long controllerPollMs,
    String kbDatabaseUrl,
    int kbPoolSize,
    String defaultEmbeddingModel,
    long modelRetentionMs,
    ListenerTimeouts timeouts,
    String clusterToken,
    String apiKeysFile,
    boolean metricsOpen) {

  public static final long DEFAULT_MODEL_RETENTION_MS = 600_000;

  public ApiServerConfig(String host, int port, String controllerAddress, List<String> apiKeys, List<String> corsOrigins,
                         long maxBodyBytes, long maxUploadBytes, long controllerPollMs, String kbDatabaseUrl, int kbPoolSize,
                         String defaultEmbeddingModel) {
    this(host, port, controllerAddress, apiKeys, corsOrigins, maxBodyBytes, maxUploadBytes, controllerPollMs, kbDatabaseUrl,
        kbPoolSize, defaultEmbeddingModel, DEFAULT_MODEL_RETENTION_MS, ListenerTimeouts.DEFAULTS, null, null, false);
  }

  public static final Flag HOST = Flag.text("host", "127.0.0.1", "address to listen on (HTTP, /health and /metrics)");
  public static final Flag PORT = Flag.integer("port", 8000, "port of the OpenAI-compatible API (0: any free port)");
  public static final Flag CONTROLLER_ADDRESS = Flag.of("controller-address", Kind.URL, "http://127.0.0.1:21001", "the controller");
  public static final Flag API_KEYS = Flag.of("api-keys", Kind.LIST, null, "require Authorization: Bearer KEY on /v1 and /api")
      .shownDefault("none");
  public static final Flag API_KEYS_FILE = Flag.of("api-keys-file", Kind.PATH, null,
      "file of SHA-256-hashed keys with scopes, one a line: sha256:HEX admin|chat|metrics|kb:read:NAME|kb:write:NAME,...")
      .shownDefault("none");
  public static final Flag METRICS_OPEN = Flag.of("metrics-open", Kind.BOOL, "false",
      "serve GET /metrics without a key even when keys are configured");
  public static final Flag ALLOWED_ORIGINS = Flag.of("allowed-origins", Kind.LIST, null,
      "origins whose browser pages may call the API (CORS); * for any").shownDefault("own origin and localhost pages");
  public static final Flag MAX_BODY_BYTES = Flag.of("max-body-bytes", Kind.BYTES, Long.toString(8L << 20),
      "larger request bodies get 413; the gRPC message limits derive from it").shownDefault("8MiB");
  public static final Flag MAX_UPLOAD_BYTES = Flag.of("max-upload-bytes", Kind.BYTES, Long.toString(64L << 20),
      "larger document uploads get 413").shownDefault("64MiB");
  public static final Flag CONTROLLER_POLL_INTERVAL = Flag.of("controller-poll-interval", Kind.SECONDS, "1",
      "seconds between fetches of the worker table from the controller (requests are dispatched locally)");
  public static final Flag MODEL_RETENTION = Flag.of("model-retention", Kind.SECONDS, "600",
      "seconds a model that lost its workers is answered 503 (retry) instead of 404");
  public static final Flag KB_DATABASE_URL = Flag.of("kb-database-url", Kind.URL, null,
      "JDBC URL of PostgreSQL + pgvector for knowledge bases").shownDefault("none: knowledge bases off");
  public static final Flag KB_POOL_SIZE = Flag.integer("kb-pool-size", 8, "database connections for knowledge bases");
  public static final Flag DEFAULT_EMBEDDING_MODEL = Flag.text("default-embedding-model", "bge-small-zh-v1.5",
      "embedding model of knowledge bases created without one");

  /** Every flag of {@code bin/zhiku api-server}, in --help order. */
  public static final List<Flag> FLAGS = List.of(HOST, PORT, CONTROLLER_ADDRESS, API_KEYS, API_KEYS_FILE, METRICS_OPEN, ALLOWED_ORIGINS, MAX_BODY_BYTES,
      MAX_UPLOAD_BYTES, CONTROLLER_POLL_INTERVAL, MODEL_RETENTION, KB_DATABASE_URL, KB_POOL_SIZE, DEFAULT_EMBEDDING_MODEL,
      ListenerTimeouts.HEADER_TIMEOUT, ListenerTimeouts.BODY_TIMEOUT, ListenerTimeouts.IDLE_TIMEOUT, ClusterToken.FLAG);

  public static Flags flags() {
    return Flags.builder("api-server", "OpenAI-compatible HTTP API in front of the controller's workers, with knowledge bases")
        .addAll(FLAGS).add(Flags.CONFIG, Flags.VERBOSE).build();
  }

  public ApiServerConfig {
    apiKeys = apiKeys == null ? List.of() : List.copyOf(apiKeys);
    corsOrigins = corsOrigins == null ? List.of() : List.copyOf(corsOrigins);
    timeouts = timeouts == null ? ListenerTimeouts.DEFAULTS : timeouts;
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("--port must be between 0 and 65535, got " + port);
    }
    if (maxBodyBytes < 1024) {
      throw new IllegalArgumentException("--max-body-bytes must be at least 1024");
    }
    if (controllerPollMs < 50) {
      throw new IllegalArgumentException("--controller-poll-interval must be at least 0.05 seconds");
    }
    if (modelRetentionMs < 0) {
      throw new IllegalArgumentException("--model-retention must be 0 or more seconds");
    }
  }

  /** The settings of the options; a malformed --api-keys-file is refused here, before anything starts. */
  public static ApiServerConfig from(Options o) {
    ApiServerConfig c = new ApiServerConfig(
        o.get(HOST),
        o.getInt(PORT),
        o.get(CONTROLLER_ADDRESS),
        o.all(API_KEYS),
        o.all(ALLOWED_ORIGINS),
        o.getBytes(MAX_BODY_BYTES),
        o.getBytes(MAX_UPLOAD_BYTES),
        o.getMillis(CONTROLLER_POLL_INTERVAL),
        o.get(KB_DATABASE_URL),
        o.getInt(KB_POOL_SIZE),
        o.get(DEFAULT_EMBEDDING_MODEL),
        o.getMillis(MODEL_RETENTION),
        ListenerTimeouts.from(o),
        ClusterToken.from(o),
        o.get(API_KEYS_FILE),
        o.getBoolean(METRICS_OPEN));
    ApiKeys.of(c);
    return c;
  }

  /** Whether any key is configured (then /v1, /api and, unless --metrics-open, /metrics need one). */
  public boolean keysConfigured() {
    return !apiKeys.isEmpty() || apiKeysFile != null;
  }

  public ApiServerConfig withKeys(List<String> keys, String keysFile, boolean openMetrics) {
    return new ApiServerConfig(host, port, controllerAddress, keys, corsOrigins, maxBodyBytes, maxUploadBytes,
        controllerPollMs, kbDatabaseUrl, kbPoolSize, defaultEmbeddingModel, modelRetentionMs, timeouts, clusterToken, keysFile,
        openMetrics);
  }

  public ApiServerConfig withControllerAddress(String address) {
    return new ApiServerConfig(host, port, address, apiKeys, corsOrigins, maxBodyBytes, maxUploadBytes,
        controllerPollMs, kbDatabaseUrl, kbPoolSize, defaultEmbeddingModel, modelRetentionMs, timeouts, clusterToken, apiKeysFile, metricsOpen);
  }

  public ApiServerConfig withTimeouts(ListenerTimeouts t) {
    return new ApiServerConfig(host, port, controllerAddress, apiKeys, corsOrigins, maxBodyBytes, maxUploadBytes,
        controllerPollMs, kbDatabaseUrl, kbPoolSize, defaultEmbeddingModel, modelRetentionMs, t, clusterToken, apiKeysFile, metricsOpen);
  }

  public ApiServerConfig withoutKnowledgeBases() {
    return new ApiServerConfig(host, port, controllerAddress, apiKeys, corsOrigins, maxBodyBytes, maxUploadBytes,
        controllerPollMs, null, kbPoolSize, defaultEmbeddingModel, modelRetentionMs, timeouts, clusterToken, apiKeysFile, metricsOpen);
  }

  public ApiServerConfig withClusterToken(String token) {
    return new ApiServerConfig(host, port, controllerAddress, apiKeys, corsOrigins, maxBodyBytes, maxUploadBytes,
        controllerPollMs, kbDatabaseUrl, kbPoolSize, defaultEmbeddingModel, modelRetentionMs, timeouts, token, apiKeysFile, metricsOpen);
  }
}
