package ai.zhiku.inference.kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/** The CPU's feature flags as Linux lists them in /proc/cpuinfo (none elsewhere). */
public final class CpuFlags {
  private static final Set<String> FLAGS = read();

  private CpuFlags() {}

  public static boolean has(String flag) { return FLAGS.contains(flag); }

  private static Set<String> read() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("flags")) {
          return Set.copyOf(List.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+")));
        }
      }
    } catch (IOException | RuntimeException e) {
      return Set.of();
    }
    return Set.of();
  }
}
