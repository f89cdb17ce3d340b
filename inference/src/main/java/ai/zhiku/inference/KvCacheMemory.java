package ai.zhiku.inference;

import ai.djl.Device;
import ai.zhiku.common.ZhikuException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code --kv-cache-memory} setting: bytes with an optional unit (4GiB, 512m, 1073741824) or a
 * fraction of the memory available when the engine starts (0.4), read after the weights are
 * loaded. The default is {@link #DEFAULT_CPU} on the CPU and {@link #DEFAULT_CUDA} on CUDA, where
 * the free GPU memory cannot be read through DJL.
 */
public final class KvCacheMemory {
  public static final String DEFAULT_CPU = "0.4";
  public static final String DEFAULT_CUDA = "4GiB";
  private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(i?b?)", Pattern.CASE_INSENSITIVE);

  private KvCacheMemory() {}

  /** Checks the form of {@code spec} (null for the default) without resolving a fraction. */
  public static void validate(String spec) {
    if (spec != null) parse(spec, 1L << 30);
  }

  /** The bytes {@code spec} (null for the default) stands for on {@code device}. */
  public static long resolve(String spec, Device device) {
    boolean cpu = device == null || device.equals(Device.cpu());
    String s = spec == null || spec.isBlank() ? (cpu ? DEFAULT_CPU : DEFAULT_CUDA) : spec;
    return parse(s, cpu ? availableBytes() : 0);
  }

  static long parse(String spec, long available) {
    String s = spec.trim().toLowerCase(Locale.ROOT);
    try {
      if (s.matches("0?\\.\\d+|1(\\.0+)?")) {
        double f = Double.parseDouble(s);
        if (f <= 0) throw new NumberFormatException();
        if (available <= 0) throw ZhikuException.invalid("kv-cache-memory", "--kv-cache-memory as a fraction needs the free memory, which is unknown here: give bytes (for example 4GiB)");
        return (long) (f * available);
      }
      Matcher m = SIZE.matcher(s);
      if (m.matches()) {
        int shift = switch (m.group(2)) { case "k" -> 10; case "m" -> 20; case "g" -> 30; case "t" -> 40; default -> 0; };
        double bytes = Double.parseDouble(m.group(1)) * (1L << shift);
        if (bytes >= 1 && bytes < Long.MAX_VALUE) return (long) bytes;
      }
    } catch (NumberFormatException ignored) {
      // refused below
    }
    throw ZhikuException.invalid("kv-cache-memory", "--kv-cache-memory must be bytes (4GiB, 512MiB, 1073741824) or a fraction of free memory (0.4), got '" + spec + "'");
  }

  /** MemAvailable from /proc/meminfo, or 0 where there is none. */
  static long availableBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemAvailable:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
      }
    } catch (IOException | NumberFormatException e) {
      // not Linux
    }
    return 0;
  }
}
