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
 */
public final class Bf16Matmul {
  private static final Logger log = LoggerFactory.getLogger(Bf16Matmul.class);
  /** Below this many weights one thread does it all: handing work over costs more. */
  private static final long PARALLEL_WEIGHTS = 1 << 16;
  /** Measured: 50 us is as good as no spinning for one sequence and better for batches; 500 us is worse. */
  private static final long SPIN_NANOS = 50_000;
  private static final Bf16Kernel KERNEL = pickKernel();
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

  /** Whether the vectorised kernel is in use (the JVM was started with the Vector API module). */
  public static boolean vectorized() { return KERNEL instanceof VectorBf16Kernel; }

  public int threads() { return helpers.length + 1; }

  /** {@code y[rows, out] = x[rows, in] · w[out, in]ᵀ}, w in bfloat16, the rest float32. */
  public void multiply(short[] w, int out, int in, float[] x, int rows, float[] y) {
    if ((long) out * in > w.length || (long) rows * in > x.length || (long) rows * out > y.length) {
      throw new IllegalArgumentException("matmul shapes do not fit the arrays");
    }
    // batches run in tiles of four rows; extra rows pad the last tile (measured for a [16384, 2048]
    // weight: 3 rows took 4.9 ms with a one-row remainder loop, 3.7 ms padded to 4). The padding
    // rows hold whatever the last product left: rows never mix, and their results are dropped.
    int padded = rows >= 3 ? (rows + 3) & ~3 : rows;
    float[] xs = x;
    float[] ys = y;
    if (padded != rows) {
      Padded p = PADDED.get();
      xs = p.x = grown(p.x, padded * in);
      System.arraycopy(x, 0, xs, 0, rows * in);
      ys = p.y = grown(p.y, padded * out);
    }
    float[] xf = xs;
    float[] yf = ys;
    if ((long) out * in < PARALLEL_WEIGHTS || helpers.length == 0) {
      KERNEL.multiply(w, in, xf, padded, yf, out, 0, out);
    } else {
      parallel(out, (o0, o1) -> KERNEL.multiply(w, in, xf, padded, yf, out, o0, o1));
    }
    if (yf != y) System.arraycopy(yf, 0, y, 0, rows * out);
  }

  /** Per-thread padded copies of activations and results, so batched decode allocates nothing per product. */
  private static final class Padded {
    float[] x = new float[0];
    float[] y = new float[0];
  }

  private static final ThreadLocal<Padded> PADDED = ThreadLocal.withInitial(Padded::new);

  private static float[] grown(float[] a, int n) {
    return a.length >= n ? a : new float[n];
  }

  /** Widens rows [from, from + count) of {@code w} [?, in] to float32 into {@code dst} (from its position 0). */
  public void widen(short[] w, int in, int from, int count, FloatBuffer dst) {
    Range r = (o0, o1) -> {
      int base = from * in;
      for (int i = o0 * in, end = o1 * in; i < end; i++) dst.put(i, Float.intBitsToFloat(w[base + i] << 16));
    };
    if ((long) count * in < PARALLEL_WEIGHTS || helpers.length == 0) {
      r.run(0, count);
    } else {
      parallel(count, r);
    }
  }

  @FunctionalInterface
  private interface Range {
    void run(int from, int to);
  }

  /**
   * Runs {@code work} over [0, n) on all threads. The range is cut into chunks of 16-row multiples
   * that the threads take in turn, about eight per thread, so a helper that wakes late (parked
   * between products) takes fewer chunks instead of making the caller wait for a fixed share. The
   * caller waits for the chunks, not for the helpers: a helper that finds none left does nothing.
   */
  private synchronized void parallel(int n, Range work) {
    int parts = helpers.length + 1;
    int grain = Math.max(16, ((n + 8 * parts - 1) / (8 * parts) + 15) & ~15);
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
