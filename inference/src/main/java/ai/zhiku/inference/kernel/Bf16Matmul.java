package ai.zhiku.inference.kernel;

import java.nio.FloatBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Matrix products with bfloat16 weights on the CPU, split by output rows over the engine's
 * compute threads (the caller's thread is one of them), each thread reading its own rows of the
 * weight once for all activation rows. The helpers spin briefly after each
 * product before parking, because a decode step calls here a few hundred times in a row with
 * PyTorch ops in between; parking and waking for each would cost more than the products of a
 * small layer. One product runs at a time: the threads are the same cores PyTorch computes on.
 *
 * <p>The arithmetic runs on the AVX512-BF16 kernel ({@link NativeBf16Kernel}) where the CPU has
 * it and the library was built, else on the Vector API kernel (or a scalar loop without the
 * module). Both compute the same numbers up to the order of float32 sums.
 */
public final class Bf16Matmul {
  private static final Logger log = LoggerFactory.getLogger(Bf16Matmul.class);
  /** Below this many weights one thread does it all: handing work over costs more. */
  private static final long PARALLEL_WEIGHTS = 1 << 16;
  /** Measured: 50 us is as good as no spinning for one sequence and better for batches; 500 us is worse. */
  private static final long SPIN_NANOS = 50_000;
  private static final Bf16Kernel KERNEL = pickKernel();
  private static final boolean NATIVE = pickNative();
  /** Attention and SwiGLU on the native library: AVX-512 is enough (no AVX512-BF16 needed). */
  private static final boolean NATIVE_ATTENTION = NativeBf16Kernel.attentionUnavailable() == null;
  private static volatile Bf16Matmul shared;

  private final Helper[] helpers;

  private Bf16Matmul(int threads) {
    helpers = new Helper[Math.max(0, threads - 1)];
    for (int i = 0; i < helpers.length; i++) {
      helpers[i] = new Helper("zhiku-bf16-" + (i + 1));
      helpers[i].start();
    }
  }

  /**
   * The process-wide instance, with as many threads as PyTorch computes on
   * ({@code ai.djl.pytorch.num_threads}, else the machine's cores).
   */
  public static Bf16Matmul shared() {
    Bf16Matmul m = shared;
    if (m == null) {
      synchronized (Bf16Matmul.class) {
        if (shared == null) {
          String t = System.getProperty("ai.djl.pytorch.num_threads");
          int threads = t == null ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(t.trim());
          shared = new Bf16Matmul(Math.max(1, threads));
        }
        m = shared;
      }
    }
    return m;
  }

  /** Which kernel runs the products: "native (AVX512-BF16)", "Vector API" or "scalar". */
  public static String kernel() {
    if (NATIVE) return "native (AVX512-BF16)";
    return KERNEL instanceof VectorBf16Kernel ? "Vector API" : "scalar";
  }

  /** Whether the AVX512-BF16 kernel is in use. */
  public static boolean nativeKernel() { return NATIVE; }

  /** Whether attention over the paged cache and SwiGLU run on the native library (AVX-512 CPUs). */
  public static boolean nativeAttention() { return NATIVE_ATTENTION; }

  /** Whether the vectorised Java kernel is in use (the JVM was started with the Vector API module). */
  public static boolean vectorized() { return KERNEL instanceof VectorBf16Kernel; }

  public int threads() { return helpers.length + 1; }

  /** out[0, n) = x[0, n) rounded to bfloat16 (to nearest even): vectorised on the native kernel. */
  public static void round(float[] x, short[] out, int n) {
    if (n > Math.min(x.length, out.length)) throw new IllegalArgumentException("round: arrays shorter than " + n);
    if (NATIVE) {
      NativeBf16Kernel.round(x, out, n);
      return;
    }
    for (int i = 0; i < n; i++) out[i] = Bf16.fromFloat(x[i]);
  }

  /**
   * {@code y[rows, out] = x[rows, in] · w[out, in]ᵀ}, w in bfloat16, y float32. The activations are
   * rounded to bfloat16 first, as PyTorch's bfloat16 linear layers and llama.cpp's BF16 products
   * take them; products of two bfloat16 numbers are exact in float32, and the sums are float32.
   */
  public void multiply(short[] w, int out, int in, float[] x, int rows, float[] y) {
    if ((long) out * in > w.length || (long) rows * in > x.length || (long) rows * out > y.length) {
      throw new IllegalArgumentException("matmul shapes do not fit the arrays");
    }
    Activations a = ACTIVATIONS.get();
    if (NATIVE) {
      short[] xb = a.bits = grown(a.bits, rows * in);
      NativeBf16Kernel.round(x, xb, rows * in);
      run(out, in, (o0, o1) -> NativeBf16Kernel.multiply(w, in, xb, rows, y, out, o0, o1));
      return;
    }
    // batches run in tiles of four rows; extra rows pad the last tile (measured for a [16384, 2048]
    // weight: 3 rows took 4.9 ms with a one-row remainder loop, 3.7 ms padded to 4). The padding
    // rows hold whatever the last product left: rows never mix, and their results are dropped.
    int padded = rows >= 3 ? (rows + 3) & ~3 : rows;
    float[] xs = a.x = grown(a.x, padded * in);
    for (int i = 0, n = rows * in; i < n; i++) xs[i] = Bf16.toFloat(Bf16.fromFloat(x[i]));
    float[] ys = padded == rows ? y : (a.y = grown(a.y, padded * out));
    run(out, in, (o0, o1) -> KERNEL.multiply(w, in, xs, padded, ys, out, o0, o1));
    if (ys != y) System.arraycopy(ys, 0, y, 0, rows * out);
  }

  /**
   * Runs {@code work} over [0, n) on the compute threads, in chunks (one thread when {@code n *
   * costPerItem} is below what is worth handing over).
   */
  public void forEach(int n, long costPerItem, Range work) {
    if ((long) n * costPerItem < PARALLEL_WEIGHTS || helpers.length == 0 || n < 2) {
      work.run(0, n);
    } else {
      parallel(n, 1, work);
    }
  }

  /**
   * Attention of {@code n} new tokens over a paged KV cache (float32, or bfloat16 when
   * {@code bf16}) whose keys and values for them are already written (see {@link NativeBf16Kernel#attention}), split over the compute threads by
   * (token, kv head). Native kernel only.
   */
  public void attention(java.nio.ByteBuffer keys, java.nio.ByteBuffer values, boolean bf16, int kvHeads, int bs, int hd,
                        int[] tables, int[] starts, int[] positions, float[] q, int heads, float scale, float[] out) {
    if (!NATIVE_ATTENTION) throw new IllegalStateException("attention runs on the native kernel only");
    int n = positions.length;
    long blocks = values.capacity() / ((bf16 ? 2L : 4L) * kvHeads * bs * hd);
    if (starts.length != n || (long) n * heads * hd > Math.min(q.length, out.length) || heads % kvHeads != 0
        || values.capacity() != keys.capacity() || bs < 1) {
      throw new IllegalArgumentException("attention shapes do not fit the arrays");
    }
    int checkedStart = -1;
    int checked = 0; // entries of the table at checkedStart already checked (a sequence's tokens share one)
    for (int t = 0; t < n; t++) {
      int used = positions[t] / bs + 1;
      if (positions[t] < 0 || starts[t] < 0 || starts[t] + used > tables.length) {
        throw new IllegalArgumentException("token " + t + ": position " + positions[t] + " outside its block table");
      }
      if (starts[t] != checkedStart) {
        checkedStart = starts[t];
        checked = 0;
      }
      for (int i = starts[t] + checked; i < starts[t] + used; i++) {
        if (tables[i] < 0 || tables[i] >= blocks) throw new IllegalArgumentException("token " + t + ": block " + tables[i] + " outside the cache");
      }
      checked = Math.max(checked, used);
    }
    long cost = (long) (max(positions) + 1) * hd * (heads / kvHeads) * 2;
    forEach(n * kvHeads, cost, (i0, i1) -> {
      int rc = NativeBf16Kernel.attention(keys, values, bf16, kvHeads, bs, hd, tables, starts, positions, q, heads, scale, out, i0, i1);
      if (rc == -1) throw new OutOfMemoryError("no native memory for attention scores");
      if (rc != 0) throw new IllegalStateException("attention buffers are not direct");
    });
  }

  /**
   * SwiGLU on the native kernel, vectorised: {@code out[r, i] = silu(gateUp[r, i]) * gateUp[r, ffn + i]}
   * for rows [r0, r1) of [gate | up]. Native kernel only.
   */
  public static void swiGlu(float[] gateUp, int r0, int r1, int ffn, float[] out) {
    if (!NATIVE_ATTENTION) throw new IllegalStateException("swiGlu runs on the native kernel only");
    if (r0 < 0 || r0 > r1 || (long) r1 * 2 * ffn > gateUp.length || (long) r1 * ffn > out.length) {
      throw new IllegalArgumentException("swiGlu rows do not fit the arrays");
    }
    NativeBf16Kernel.swiGlu(gateUp, r0, r1, ffn, out);
  }

  private static int max(int[] a) {
    int m = Integer.MIN_VALUE;
    for (int v : a) m = Math.max(m, v);
    return m;
  }

  private void run(int out, int in, Range work) {
    if ((long) out * in < PARALLEL_WEIGHTS || helpers.length == 0) {
      work.run(0, out);
    } else {
      parallel(out, 16, work);
    }
  }

  /** Per-thread rounded activations (and padded results), so a product allocates nothing. */
  private static final class Activations {
    float[] x = new float[0];
    short[] bits = new short[0];
    float[] y = new float[0];
  }

  private static final ThreadLocal<Activations> ACTIVATIONS = ThreadLocal.withInitial(Activations::new);

  private static float[] grown(float[] a, int n) {
    return a.length >= n ? a : new float[n];
  }

  private static short[] grown(short[] a, int n) {
    return a.length >= n ? a : new short[n];
  }

  /** Widens rows [from, from + count) of {@code w} [?, in] to float32 into {@code dst} (from its position 0). */
  public void widen(short[] w, int in, int from, int count, FloatBuffer dst) {
    Range r = (o0, o1) -> {
      int base = from * in;
      for (int i = o0 * in, end = o1 * in; i < end; i++) dst.put(i, Float.intBitsToFloat(w[base + i] << 16));
    };
    run(count, in, r);
  }

  /** Work over a range of items [from, to). */
  @FunctionalInterface
  public interface Range {
    void run(int from, int to);
  }

  /**
   * Runs {@code work} over [0, n) on all threads. The range is cut into chunks of {@code unit} multiples
   * that the threads take in turn, about eight per thread, so a helper that wakes late (parked
   * between products) takes fewer chunks instead of making the caller wait for a fixed share. The
   * caller waits for the chunks, not for the helpers: a helper that finds none left does nothing.
   */
  private synchronized void parallel(int n, int unit, Range work) {
    int parts = helpers.length + 1;
    int grain = Math.max(unit, ((n + 8 * parts - 1) / (8 * parts) + unit - 1) / unit * unit);
    int chunks = (n + grain - 1) / grain;
    AtomicInteger next = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Runnable loop = () -> {
      for (int c = next.getAndIncrement(); c < chunks; c = next.getAndIncrement()) {
        try {
          if (failure.get() == null) work.run(c * grain, Math.min(n, (c + 1) * grain));
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        } finally {
          done.incrementAndGet();
        }
      }
    };
    for (int i = 0; i < Math.min(helpers.length, chunks - 1); i++) helpers[i].give(loop);
    loop.run();
    long spins = 0;
    while (done.get() < chunks) {
      if (++spins > 100_000) Thread.yield();
      else Thread.onSpinWait();
    }
    Throwable t = failure.get();
    if (t instanceof RuntimeException e) throw e;
    if (t instanceof Error e) throw e;
    if (t != null) throw new IllegalStateException(t);
  }

  private static final class Helper extends Thread {
    private final AtomicReference<Runnable> task = new AtomicReference<>();

    Helper(String name) {
      super(name);
      setDaemon(true);
    }

    void give(Runnable r) {
      task.set(r);
      LockSupport.unpark(this);
    }

    @Override
    public void run() {
      long idleSince = System.nanoTime();
      while (true) {
        Runnable t = task.getAndSet(null);
        if (t != null) {
          t.run(); // never throws: the loop records failures for the caller
          idleSince = System.nanoTime();
        } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
          Thread.onSpinWait();
        } else {
          LockSupport.park(this);
        }
      }
    }
  }

  private static boolean pickNative() {
    String why = NativeBf16Kernel.unavailable();
    if (why == null) return true;
    log.info("bfloat16 products run on the Java kernel: the native one is unavailable ({})", why);
    return false;
  }

  private static Bf16Kernel pickKernel() {
    if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
      try {
        return new VectorBf16Kernel();
      } catch (LinkageError e) {
        log.warn("Vector API unusable ({}); bfloat16 products run on the scalar loop", e.toString());
      }
    } else {
      log.warn("the JVM was started without --add-modules jdk.incubator.vector: bfloat16 products run on "
          + "the scalar loop, several times slower (bin/zhiku adds the flag)");
    }
    return new ScalarBf16Kernel();
  }
}
