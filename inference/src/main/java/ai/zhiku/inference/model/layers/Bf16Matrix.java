package ai.zhiku.inference.model.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.zhiku.inference.kernel.Bf16;
import ai.zhiku.inference.kernel.Bf16Matmul;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * A weight kept in bfloat16 on the Java heap (2 bytes per weight). DJL 0.35.1's PyTorch JNI
 * cannot hold bfloat16 tensors, so the products are ours, on {@link Bf16Matmul}: activations
 * rounded to bfloat16, products summed in float32, as PyTorch's bfloat16 linear layers compute.
 * With the AVX512-BF16 kernel every product runs there; with the Java kernel, steps with many
 * rows (prefill) instead widen the weight to float32 a slice at a time and let PyTorch's GEMM do
 * the arithmetic on the rounded activations.
 */
public final class Bf16Matrix implements HostMatrix {
  /**
   * From this many rows on (prefill), products on the Java kernel widen the weight and run
   * PyTorch's float32 GEMM. Alone the Java kernel is as fast or faster at every size (a [16384, 2048]
   * weight: 48 rows 19 ms against 53 ms widened, 512 rows 217 against 236 ms), but in the model a
   * 512-token prefill ran at 42.7 tok/s on it and 46.3 widened: there PyTorch's threads, busy with
   * attention between the products, compete with ours. The threshold itself (48) was not tuned
   * further. The native kernel beats both in the model (69-77 tok/s, BENCHMARKS.md).
   */
  public static final int WIDEN_ROWS = 48;
  /** Floats per widened slice (32 MiB), so prefill never holds a whole float32 copy. */
  private static final int SLICE_FLOATS = 8 << 20;

  private final short[] data;
  private final int rows;
  private final int cols;

  public Bf16Matrix(short[] data, int rows, int cols) {
    if ((long) rows * cols != data.length) {
      throw new IllegalArgumentException("bfloat16 matrix [" + rows + ", " + cols + "] needs " + (long) rows * cols
          + " values, got " + data.length);
    }
    this.data = data;
    this.rows = rows;
    this.cols = cols;
  }

  @Override
  public long rows() { return rows; }

  @Override
  public long cols() { return cols; }

  @Override
  public long bytes() { return 2L * data.length; }

  /** The raw bfloat16 values, row-major. */
  public short[] data() { return data; }

  @Override
  public NDArray multiply(NDArray x, NDArray bias) {
    Shape s = x.getShape();
    if (s.dimension() != 2 || s.get(1) != cols || x.getDataType() != DataType.FLOAT32) {
      throw new IllegalArgumentException("expected float32 activations [n, " + cols + "], got " + x.getDataType() + " " + s);
    }
    int n = Math.toIntExact(s.get(0));
    NDManager m = x.getManager();
    NDArray y;
    if (n >= WIDEN_ROWS && !Bf16Matmul.nativeKernel()) {
      try (NDArray rounded = roundedToBf16(x, n)) {
        y = widenedProduct(rounded);
      }
    } else {
      Scratch sc = BUFFERS.get();
      float[] xa = sc.in(Math.multiplyExact(n, cols));
      read(x, xa, n * cols);
      float[] out = sc.out(Math.multiplyExact(n, rows));
      Bf16Matmul.shared().multiply(data, rows, cols, xa, n, out);
      y = array(m, out, n, rows);
    }
    return bias == null ? y : y.add(bias);
  }

  /** {@code y[n, rows] = x[n, cols] · wᵀ} on Java arrays (decode steps that stay in Java between products). */
  @Override
  public void multiply(float[] x, int n, float[] y) {
    Bf16Matmul.shared().multiply(data, rows, cols, x, n, y);
  }

  /** Rows {@code ids} widened into {@code out} [ids.length, cols]. */
  public void rows(long[] ids, float[] out) {
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= rows) throw new IndexOutOfBoundsException("row " + ids[i] + " of " + rows);
      int base = (int) ids[i] * cols;
      for (int k = 0; k < cols; k++) out[i * cols + k] = Float.intBitsToFloat(data[base + k] << 16);
    }
  }

  /**
   * A float32 array [n, cols] in {@code m} holding {@code v}, written straight into the memory
   * PyTorch allocated for it (a fresh CPU tensor's buffer is a live view). Neither DJL's
   * create(float[]) (a direct buffer per call, freed only by the collector) nor set(ByteBuffer)
   * (the array then wraps that buffer, so a shared one would be overwritten by the next call).
   */
  public static NDArray array(NDManager m, float[] v, int n, int cols) {
    NDArray a = m.create(new Shape(n, cols), DataType.FLOAT32);
    a.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer().put(v, 0, Math.multiplyExact(n, cols));
    return a;
  }

  /** The values of a float32 array into {@code dst} (its first {@code len}). */
  public static void read(NDArray a, float[] dst, int len) {
    a.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer().get(dst, 0, len);
  }

  /**
   * {@code x} with every value rounded to bfloat16 (as {@link Bf16Matmul} rounds the activations of
   * its products), so a prefill on PyTorch's GEMM computes what the kernels compute.
   */
  private NDArray roundedToBf16(NDArray x, int n) {
    float[] v = BUFFERS.get().in(Math.multiplyExact(n, cols));
    read(x, v, n * cols);
    for (int i = 0; i < n * cols; i++) v[i] = Bf16.toFloat(Bf16.fromFloat(v[i]));
    return array(x.getManager(), v, n, cols);
  }

  private NDArray widenedProduct(NDArray x) {
    int slice = Math.max(1, Math.min(rows, SLICE_FLOATS / cols));
    ByteBuffer scratch = BUFFERS.get().bytes(slice * cols);
    FloatBuffer floats = scratch.asFloatBuffer();
    NDManager m = x.getManager();
    NDList parts = new NDList();
    for (int r = 0; r < rows; r += slice) {
      int count = Math.min(slice, rows - r);
      Bf16Matmul.shared().widen(data, cols, r, count, floats);
      ByteBuffer bytes = scratch.duplicate().order(ByteOrder.nativeOrder()).limit(count * cols * 4);
      // the array may wrap the scratch buffer: it is used and closed before the buffer is refilled
      try (NDArray w32 = m.create(bytes, new Shape(count, cols), DataType.FLOAT32)) {
        parts.add(Linear.linear(x, w32).singletonOrThrow());
      }
    }
    if (parts.size() == 1) return parts.head();
    NDArray y = NDArrays.concat(parts, 1);
    parts.close();
    return y;
  }

  /**
   * Per-thread buffers, so that a step allocates no Java or direct memory per product: DJL's
   * create(float[]) allocates a direct buffer each time, and freeing those waits for the garbage
   * collector (it cost 94 ms of a 435 ms step at 8 sequences). The direct buffer carries the
   * widened weight slices of prefill products.
   */
  private static final class Scratch {
    private float[] in = new float[0];
    private float[] out = new float[0];
    private ByteBuffer bytes = ByteBuffer.allocateDirect(0);

    float[] in(int n) {
      if (in.length < n) in = new float[n];
      return in;
    }

    float[] out(int n) {
      if (out.length < n) out = new float[n];
      return out;
    }

    /** A native-order direct buffer of exactly n floats, positioned at 0; valid until the next call. */
    ByteBuffer bytes(int n) {
      if (bytes.capacity() < n * 4) bytes = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder());
      return bytes.clear().limit(n * 4);
    }
  }

  private static final ThreadLocal<Scratch> BUFFERS = ThreadLocal.withInitial(Scratch::new);

  @Override
  public NDArray rows(NDManager step, long[] ids) {
    float[] out = new float[Math.multiplyExact(ids.length, cols)];
    rows(ids, out);
    return array(step, out, ids.length, cols);
  }
}
