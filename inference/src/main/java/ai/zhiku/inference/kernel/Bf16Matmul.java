package ai.zhiku.inference.kernel;

import java.nio.FloatBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Matrix products with bfloat16 weights on the CPU, split by output rows over the engine's
 * compute threads (the caller's thread is one of them). The helpers spin briefly after each
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
  private final AtomicInteger pending = new AtomicInteger();

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
    if ((long) out * in < PARALLEL_WEIGHTS || helpers.length == 0) {
      KERNEL.multiply(w, in, x, rows, y, out, 0, out);
      return;
    }
    parallel(out, (o0, o1) -> KERNEL.multiply(w, in, x, rows, y, out, o0, o1));
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

  private synchronized void parallel(int n, Range work) {
    int parts = helpers.length + 1;
    int per = ((n + parts - 1) / parts + 15) & ~15; // 16-row aligned parts
    pending.set(0);
    int used = 0;
    for (int i = 1; i < parts && i * per < n; i++) {
      int from = i * per;
      int to = Math.min(n, from + per);
      pending.incrementAndGet();
      helpers[i - 1].give(() -> work.run(from, to));
      used++;
    }
    Throwable own = null;
    try {
      work.run(0, Math.min(n, per));
    } catch (Throwable t) {
      own = t;
    }
    long spins = 0;
    while (pending.get() > 0) {
      if (++spins > 100_000) Thread.yield();
      else Thread.onSpinWait();
    }
    for (int i = 0; i < used; i++) {
      Throwable t = helpers[i].failure;
      helpers[i].failure = null;
      if (t != null && own == null) own = t;
    }
    if (own instanceof RuntimeException e) throw e;
    if (own instanceof Error e) throw e;
    if (own != null) throw new IllegalStateException(own);
  }

  private final class Helper extends Thread {
    private volatile Runnable task;
    private volatile Throwable failure;

    Helper(String name) {
      super(name);
      setDaemon(true);
    }

    void give(Runnable r) {
      task = r;
      LockSupport.unpark(this);
    }

    @Override
    public void run() {
      long idleSince = System.nanoTime();
      while (true) {
        Runnable t = task;
        if (t != null) {
          task = null;
          try {
            t.run();
          } catch (Throwable e) {
            failure = e;
          }
          pending.decrementAndGet();
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
