package ai.zhiku.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Locates and caches the shared golden files (system property zhiku.golden.dir). */
public final class Goldens {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<Path, JsonNode> CACHE = new ConcurrentHashMap<>();

  private Goldens() {}

  public static Path dir(String model) {
    String base = System.getProperty("zhiku.golden.dir");
    if (base == null) throw new IllegalStateException("system property zhiku.golden.dir is not set");
    return Path.of(base).resolve(model);
  }

  public static JsonNode json(String model, String file) {
    return CACHE.computeIfAbsent(dir(model).resolve(file), p -> {
      try {
        return JSON.readTree(p.toFile());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }
}
