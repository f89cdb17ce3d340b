package ai.zhiku.inference.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.inference.model.layers.Bf16Matrix;
import ai.zhiku.inference.model.layers.Matrix;
import ai.zhiku.inference.model.layers.TorchMatrix;
import ai.zhiku.inference.weights.CheckpointException;
import ai.zhiku.inference.weights.TensorInfo;
import ai.zhiku.inference.weights.WeightsIndex;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a family's tensors in the model's {@link Precision}: vectors as arrays in the activation
 * type, matrices as {@link Matrix}, possibly assembled from row ranges of several tensors (a
 * regrouped or stacked projection). Every tensor is copied once from its file: PyTorch tensors from
 * a memory map, bfloat16 matrices by streaming reads into the Java array.
 */
public final class WeightLoader {
  /** Rows [first, first + count) of a tensor; count -1: to its end. */
  public record Rows(String tensor, long first, long count) {
    public static Rows all(String tensor) { return new Rows(tensor, 0, -1); }
  }

  private final WeightsIndex index;
  private final NDManager manager;
  private final Precision precision;

  public WeightLoader(WeightsIndex index, NDManager manager, Precision precision) {
    this.index = index;
    this.manager = manager;
    this.precision = precision;
    if (precision == Precision.BFLOAT16) checkHeap(index);
  }

  /** Refuses, before reading anything, a checkpoint whose bfloat16 matrices the Java heap cannot hold. */
  private static void checkHeap(WeightsIndex index) {
    long bytes = 0;
    for (String name : index.names()) {
      if (index.info(name).shape().length == 2) bytes += 2 * index.info(name).numel();
    }
    long max = Runtime.getRuntime().maxMemory();
    long needed = bytes + (256L << 20);
    if (needed > max) {
      throw ZhikuException.invalid("dtype", String.format("bfloat16 weights need %.1f GiB of Java heap but the JVM may "
          + "use only %.1f GiB: raise it (ZHIKU_JAVA_OPTS=-Xmx%dg) or use --dtype float16", needed / 1073741824.0,
          max / 1073741824.0, (needed >> 30) + 2));
    }
  }

  public Precision precision() { return precision; }

  /** A tensor kept whole, in the activation type (norm weights, biases). */
  public NDArray vector(String name) {
    return index.toNDArray(name, manager, precision.activations());
  }

  /** Elements of a 1-D tensor picked by ranges, concatenated, in the activation type. */
  public NDArray vector(List<Rows> parts) {
    try (NDManager tmp = manager.newSubManager()) {
      NDArray out = concat(parts, tmp);
      out.attach(manager);
      return out;
    }
  }

  public Matrix matrix(String name) {
    return matrix(List.of(Rows.all(name)));
  }

  /** A matrix made of the given row ranges, stacked in order. */
  public Matrix matrix(List<Rows> parts) {
    if (precision == Precision.BFLOAT16) return bf16(parts);
    if (parts.size() == 1 && parts.get(0).first() == 0 && parts.get(0).count() < 0) {
      return new TorchMatrix(index.toNDArray(parts.get(0).tensor(), manager, precision.activations()));
    }
    try (NDManager tmp = manager.newSubManager()) {
      NDArray out = concat(parts, tmp);
      out.attach(manager);
      return new TorchMatrix(out);
    }
  }

  private NDArray concat(List<Rows> parts, NDManager tmp) {
    Map<String, NDArray> loaded = new HashMap<>();
    NDList pieces = new NDList(parts.size());
    for (Rows r : parts) {
      NDArray t = loaded.computeIfAbsent(r.tensor(), n -> index.toNDArray(n, tmp, precision.activations()));
      long end = r.count() < 0 ? t.getShape().get(0) : r.first() + r.count();
      pieces.add(t.get("{}:{}", r.first(), end));
    }
    return pieces.size() == 1 ? pieces.head().duplicate() : NDArrays.concat(pieces, 0);
  }

  private Bf16Matrix bf16(List<Rows> parts) {
    long cols = -1;
    long total = 0;
    for (Rows r : parts) {
      TensorInfo info = index.info(r.tensor());
      if (info.shape().length != 2) throw new CheckpointException("tensor " + r.tensor() + " is not a matrix");
      if (cols >= 0 && info.shape()[1] != cols) {
        throw new CheckpointException("tensor " + r.tensor() + " has " + info.shape()[1] + " columns, expected " + cols);
      }
      cols = info.shape()[1];
      total += r.count() < 0 ? info.shape()[0] - r.first() : r.count();
    }
    long size = total * cols;
    if (size > Integer.MAX_VALUE - 16) {
      throw new CheckpointException("matrix " + parts.get(0).tensor() + " has " + size + " values, more than one bfloat16 "
          + "array holds");
    }
    short[] data = new short[(int) size];
    int at = 0;
    for (Rows r : parts) {
      TensorInfo info = index.info(r.tensor());
      long rows = r.count() < 0 ? info.shape()[0] - r.first() : r.count();
      int n = Math.toIntExact(rows * cols);
      index.readBf16(r.tensor(), r.first() * cols, n, data, at);
      at += n;
    }
    return new Bf16Matrix(data, Math.toIntExact(total), Math.toIntExact(cols));
  }
}
