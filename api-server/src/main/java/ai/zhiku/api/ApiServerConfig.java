package ai.zhiku.api;

import ai.zhiku.common.ListenerTimeouts;
import ai.zhiku.common.Options;
import java.util.List;

/**
 * The api-server's settings.
 *
 * @param apiKeys empty: no authentication
 * @param maxBodyBytes request bodies above this get 413 (document uploads have their own limit)
 * @param controllerPollMs how often the worker table is fetched from the controller ({@code --controller-poll-interval})
 * @param kbDatabaseUrl JDBC URL of the knowledge-base database; null: knowledge bases are off
 * @param modelRetentionMs a model served within this long and now without workers is a 503 (retry), not a
 *     404 ({@code --model-retention})
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
    ListenerTimeouts timeouts) {

  public static final long DEFAULT_MODEL_RETENTION_MS = 600_000;

  public ApiServerConfig(String host, int port, String controllerAddress, List<String> apiKeys, List<String> corsOrigins,
                         long maxBodyBytes, long maxUploadBytes, long controllerPollMs, String kbDatabaseUrl, int kbPoolSize,
                         String defaultEmbeddingModel) {
    this(host, port, controllerAddress, apiKeys, corsOrigins, maxBodyBytes, maxUploadBytes, controllerPollMs, kbDatabaseUrl,
        kbPoolSize, defaultEmbeddingModel, DEFAULT_MODEL_RETENTION_MS, ListenerTimeouts.DEFAULTS);
  }

  public ApiServerConfig {
    apiKeys = apiKeys == null ? List.of() : List.copyOf(apiKeys);
    corsOrigins = corsOrigins == null || corsOrigins.isEmpty() ? List.of("*") : List.copyOf(corsOrigins);
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

  public static ApiServerConfig from(Options o) {
    return new ApiServerConfig(
        o.get("host", "127.0.0.1"),
        o.getInt("port", 8000),
        o.get("controller-address", "http://127.0.0.1:21001"),
        o.all("api-keys"),
        o.all("allowed-origins"),
        o.getLong("max-body-bytes", 8L << 20),
        o.getLong("max-upload-bytes", 64L << 20),
        Math.round(o.getDouble("controller-poll-interval", 1.0) * 1000),
        o.get("kb-database-url", null),
        o.getInt("kb-pool-size", 8),
        o.get("default-embedding-model", "bge-small-zh-v1.5"),
        Math.round(o.getDouble("model-retention", DEFAULT_MODEL_RETENTION_MS / 1000.0) * 1000),
        ListenerTimeouts.from(o));
  }

  public ApiServerConfig withControllerAddress(String address) {
    return new ApiServerConfig(host, port, address, apiKeys, corsOrigins, maxBodyBytes, maxUploadBytes,
        controllerPollMs, kbDatabaseUrl, kbPoolSize, defaultEmbeddingModel, modelRetentionMs, timeouts);
  }

  public ApiServerConfig withTimeouts(ListenerTimeouts t) {
    return new ApiServerConfig(host, port, controllerAddress, apiKeys, corsOrigins, maxBodyBytes, maxUploadBytes,
        controllerPollMs, kbDatabaseUrl, kbPoolSize, defaultEmbeddingModel, modelRetentionMs, t);
  }
}
