package ai.zhiku.inference.kernel;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * The AVX512-VNNI kernel of quantized products ({@code src/main/c/zhiku_int8.c}, built into the
 * jar when gcc is there): {@code vpdpbusd} multiplies 64 byte pairs per instruction. Used where
 * the CPU has it and the library loads; otherwise {@link QuantizedProducts} runs the Java kernel,
 * which computes the same bits. {@code -Dzhiku.quant.kernel=java} turns it off (for comparisons).
 */
final class NativeQuantKernel {
  private static final String RESOURCE = "/native/linux-x86_64/libzhiku_int8.so";
  private static final String UNAVAILABLE = load();

  private NativeQuantKernel() {}

  /** Null when the kernel can be used, else why not. */
  static String unavailable() { return UNAVAILABLE; }

  /**
   * Outputs of row blocks [b0, b1) of packed weights ({@link PackedWeights}) for n quantized
   * activation rows ({@link QuantizedActivations}): {@code y[r * rows + o]}.
   */
  static native void multiply(byte[] w, float[] scales, int bits, int rows, int cols, int group, byte[] a, float[] aScales,
                              int[] aSums, int n, float[] y, int b0, int b1);

  private static native int version();

  private static String load() {
    if ("java".equals(System.getProperty("zhiku.quant.kernel", "auto").trim().toLowerCase(Locale.ROOT))) {
      return "turned off by -Dzhiku.quant.kernel=java";
    }
    String os = System.getProperty("os.name", "") + "/" + System.getProperty("os.arch", "");
    if (!os.equals("Linux/amd64")) return "not x86-64 Linux (" + os + ")";
    if (!CpuFlags.has("avx512_vnni") || !CpuFlags.has("avx512bw")) return "the CPU has no AVX512-VNNI";
    try (InputStream in = NativeQuantKernel.class.getResourceAsStream(RESOURCE)) {
      if (in == null) return "the build made no native library (gcc missing when it was built?)";
      Path file = Files.createTempFile("zhiku-int8-", ".so");
      try {
        Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        System.load(file.toAbsolutePath().toString());
      } finally {
        Files.deleteIfExists(file); // the loaded library stays mapped
      }
      return version() == 1 ? null : "the native library is from another build";
    } catch (IOException | LinkageError | RuntimeException e) {
      return "the native library did not load: " + e;
    }
  }
}
