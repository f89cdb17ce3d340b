package ai.zhiku.api;

import ai.zhiku.common.Options;
import java.util.List;

/**
 * The api-server's settings.
 *
 * @param apiKeys empty: no authentication
 * @param maxBodyBytes request bodies above this get 413 (document uploads have their own limit)
 * @param kbDatabaseUrl JDBC URL of the knowledge-base database; null: knowledge bases are off
 */
public record ApiServerConfig(
    String host,
    int port,
    String controllerAddress,
    List<String> apiKeys,
    List<String> corsOrigins,
    long maxBodyBytes,
    long maxUploadBytes,
    long modelsCacheMs,
    String kbDatabaseUrl,
    int kbPoolSize,
    String defaultEmbeddingModel) {

  public ApiServerConfig {
    apiKeys = apiKeys == null ? List.of() : List.copyOf(apiKeys);
    corsOrigins = corsOrigins == null || corsOrigins.isEmpty() ? List.of("*") : List.copyOf(corsOrigins);
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("--port must be between 0 and 65535, got " + port);
    }
    if (maxBodyBytes < 1024) {
      throw new IllegalArgumentException("--max-body-bytes must be at least 1024");
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
        Math.round(o.getDouble("models-cache", 1.0) * 1000),
        o.get("kb-database-url", null),
        o.getInt("kb-pool-size", 8),
        o.get("default-embedding-model", "bge-small-zh-v1.5"));
  }

  public ApiServerConfig withControllerAddress(String address) {
    return new ApiServerConfig(host, port, address, apiKeys, corsOrigins, maxBodyBytes, maxUploadBytes,
        modelsCacheMs, kbDatabaseUrl, kbPoolSize, defaultEmbeddingModel);
  }
}
