package ai.zhiku.embeddings;

/**
 * DJL settings that must be in place before DJL is first touched: no network (natives come from
 * the jars on the class path, usage tracking off). A launcher may set them earlier; values it set
 * are kept.
 */
final class DjlSetup {

  private DjlSetup() {}

  static void ensureOffline() {
    setIfAbsent("ai.djl.offline", "true");
    setIfAbsent("OPT_OUT_TRACKING", "true");
    setIfAbsent("ai.djl.pytorch.num_threads", Integer.toString(cores()));
    setIfAbsent("ai.djl.pytorch.num_interop_threads", "1");
  }

  /** Compute threads for the engines: the cores, or the JVM property zhiku.engine.threads (see BENCHMARKS.md). */
  static int cores() {
    String t = System.getProperty("zhiku.engine.threads");
    if (t != null) {
      return Math.max(1, Integer.parseInt(t.trim()));
    }
    return Math.max(1, Runtime.getRuntime().availableProcessors());
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
