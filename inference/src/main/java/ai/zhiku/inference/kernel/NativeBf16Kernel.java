package ai.zhiku.inference.kernel;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * The AVX512-BF16 kernel ({@code src/main/c/zhiku_bf16.c}, built into the jar by the module's
 * build when gcc is there): {@code vdpbf16ps} multiplies 32 bfloat16 pairs per instruction, which
 * the Vector API cannot express. Used only where the CPU has the instruction (Zen 4/5, Intel from
 * Cooper Lake and Sapphire Rapids on) and the library loads; otherwise {@link Bf16Matmul} keeps
 * the Vector API kernel. {@code -Dzhiku.bf16.kernel=java} turns it off (for comparisons).
 */
final class NativeBf16Kernel {
  private static final String RESOURCE = "/native/linux-x86_64/libzhiku_bf16.so";
  /** The same source without the bfloat16 products: attention and SwiGLU on AVX-512 CPUs without AVX512-BF16. */
  private static final String AVX512_RESOURCE = "/native/linux-x86_64/libzhiku_avx512.so";
  /** Why the products, then why attention and SwiGLU, cannot run here (null: they can). */
  private static final String[] UNAVAILABLE = load();

  private NativeBf16Kernel() {}

  /** Null when the bfloat16 products can be used, else why not. */
  static String unavailable() { return UNAVAILABLE[0]; }

  /** Null when attention and SwiGLU can run natively (AVX-512 is enough), else why not. */
  static String attentionUnavailable() { return UNAVAILABLE[1]; }

  /**
   * {@code y[r * out + o] = Σk w[o * in + k] · x[r * in + k]} for rows {@code r < rows} and
   * outputs {@code o0 <= o < o1}; w and x are bfloat16 bits, sums in float32.
   */
  static native void multiply(short[] w, int in, short[] x, int rows, float[] y, int out, int o0, int o1);

  /** {@code out[i] = x[i]} rounded to bfloat16 (to nearest even; denormals flush to zero), for i < n. */
  static native void round(float[] x, short[] out, int n);

  /**
   * Attention of new tokens over a paged KV cache [blocks, kvHeads, bs, hd] of float32, or of
   * bfloat16 when {@code bf16} (direct buffers over the cache tensors), in which their keys and
   * values are already written: items
   * {@code [i0, i1)} of {@code token * kvHeads + kvHead}; token t at {@code positions[t]} sees
   * positions 0..positions[t] of its sequence, position j in block {@code tables[starts[t] + j / bs]}.
   * q and out are [n, heads * hd].
   *
   * @return 0, -1 when no memory for the scores, -2 when a buffer is not direct or an array not pinned
   */
  static native int attention(java.nio.ByteBuffer keys, java.nio.ByteBuffer values, boolean bf16, int kvHeads, int bs, int hd,
                              int[] tables, int[] starts, int[] positions, float[] q, int heads, float scale, float[] out,
                              int i0, int i1);

  /** {@code out[r, i] = silu(gateUp[r, i]) * gateUp[r, ffn + i]} for rows [r0, r1), exp within 1-2 ulp. */
  static native void swiGlu(float[] gateUp, int r0, int r1, int ffn, float[] out);

  private static native int version();

  private static native int hasProducts();

  private static String[] load() {
    if ("java".equals(System.getProperty("zhiku.bf16.kernel", "auto").trim().toLowerCase(Locale.ROOT))) {
      String off = "turned off by -Dzhiku.bf16.kernel=java";
      return new String[] {off, off};
    }
    String os = System.getProperty("os.name", "") + "/" + System.getProperty("os.arch", "");
    if (!os.equals("Linux/amd64")) return both("not x86-64 Linux (" + os + ")");
    boolean bf16 = CpuFlags.has("avx512_bf16");
    if (!bf16 && !(CpuFlags.has("avx512f") && CpuFlags.has("avx512bw") && CpuFlags.has("avx512vl"))) {
      return both("the CPU has no AVX-512");
    }
    String why = loadLibrary(bf16 ? RESOURCE : AVX512_RESOURCE);
    if (why != null) return both(why);
    if (version() != 5 || hasProducts() != (bf16 ? 1 : 0)) return both("the native library is from another build");
    return new String[] {bf16 ? null : "the CPU has no AVX512-BF16", null};
  }

  private static String[] both(String why) {
    return new String[] {why, why};
  }

  /** Null when the library loaded, else why not. */
  private static String loadLibrary(String resource) {
    try (InputStream in = NativeBf16Kernel.class.getResourceAsStream(resource)) {
      if (in == null) return "the build made no native library (gcc missing when it was built?)";
      Path file = Files.createTempFile("zhiku-bf16-", ".so");
      try {
        Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        System.load(file.toAbsolutePath().toString());
      } finally {
        Files.deleteIfExists(file); // the loaded library stays mapped
      }
      return null;
    } catch (IOException | LinkageError | RuntimeException e) {
      // RuntimeException: a JDK that denies native access to this module (IllegalCallerException)
      return "the native library did not load: " + e;
    }
  }
}
