package ai.zhiku.inference.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.inference.model.layers.Bf16Matrix;
import ai.zhiku.inference.kernel.PackedWeights;
import ai.zhiku.inference.model.layers.Matrix;
import ai.zhiku.inference.model.layers.QuantizedMatrix;
import ai.zhiku.inference.model.layers.TorchMatrix;
import ai.zhiku.inference.weights.CheckpointException;
import ai.zhiku.inference.weights.TensorInfo;
import ai.zhiku.inference.weights.WeightsIndex;
import ai.zhiku.inference.weights.quantized.QuantizedRows;
import ai.zhiku.inference.weights.quantized.StoredQuantization;
import java.util.ArrayList;
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

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(WeightLoader.class);

  private final WeightsIndex index;
  private final NDManager manager;
  private final Precision precision;
  /** Null: matrices are kept in the precision. */
  private final Quantization quantization;
  /** Null: the checkpoint's matrices are floats. */
  private final StoredQuantization stored;

  public WeightLoader(WeightsIndex index, NDManager manager, Precision precision) {
    this(index, manager, WeightFormat.of(precision));
  }

  public WeightLoader(WeightsIndex index, NDManager manager, WeightFormat format) {
    this.index = index;
    this.manager = manager;
    this.precision = format.precision();
    this.quantization = format.quantization();
    this.stored = format.stored();
    if (precision == Precision.BFLOAT16) checkHeap(index, quantization);
  }

  /**
   * Refuses, before reading anything, a checkpoint whose bfloat16 or quantized matrices the Java
   * heap cannot hold (quantized: the largest matrix, the embedding, counted in bfloat16).
   */
  private static void checkHeap(WeightsIndex index, Quantization q) {
    long bytes = 0;
    long largest = 0;
    for (String name : index.names()) {
      if (index.info(name).shape().length != 2) continue;
      if (!index.info(name).dtype().isFloating()) { // a checkpoint's quantized weights, held at their size
        bytes += index.info(name).byteSize();
        continue;
      }
      long numel = index.info(name).numel();
      largest = Math.max(largest, numel);
      bytes += q == null ? 2 * numel : numel * q.bits() / 8 + 4 * numel / q.groupSize();
    }
    if (q != null) bytes += 2 * largest;
    long max = Runtime.getRuntime().maxMemory();
    long needed = bytes + (256L << 20);
    if (needed > max) {
      String kind = q == null ? "bfloat16" : q.flag();
      throw ZhikuException.invalid("dtype", String.format("%s weights need %.1f GiB of Java heap but the JVM may "
          + "use only %.1f GiB: raise it (ZHIKU_JAVA_OPTS=-Xmx%dg)%s", kind, needed / 1073741824.0,
          max / 1073741824.0, (needed >> 30) + 2, q == null ? " or use --dtype float16" : ""));
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

  /**
   * An embedding table: rows are looked up, so it is never quantized (it may be the output head
   * too, with tied embeddings).
   */
  public Matrix table(String name) {
    return quantization == null ? matrix(name) : bf16(List.of(Rows.all(name)));
  }

  /** A matrix made of the given row ranges, stacked in order: quantized when the format says so. */
  public Matrix matrix(List<Rows> parts) {
    if (stored != null) {
      List<QuantizedRows> sources = new ArrayList<>();
      for (Rows r : parts) {
        QuantizedRows q = QuantizedRows.open(index, stored, r.tensor());
        if (q != null) sources.add(q);
      }
      if (!sources.isEmpty()) {
        if (sources.size() != parts.size()) {
          throw new CheckpointException("tensor " + parts.get(0).tensor() + " is stacked from quantized and float tensors");
        }
        return StoredMatrices.pack(parts, sources);
      }
    }
    if (quantization != null) return quantized(parts);
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

  /** [rows, cols] of the matrix the parts stack into. */
  private long[] shape(List<Rows> parts) {
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
    return new long[] {total, cols};
  }

  /**
   * The parts quantized block by block of 16 rows as they are read, so the float matrix is never
   * whole in memory. A matrix whose columns no group of 8 or more divides stays in bfloat16.
   */
  private Matrix quantized(List<Rows> parts) {
    long[] shape = shape(parts);
    int rows = Math.toIntExact(shape[0]);
    int cols = Math.toIntExact(shape[1]);
    int group = PackedWeights.groupFor(cols, quantization.groupSize());
    if (group == 0) {
      log.warn("{} [{}, {}] stays in bfloat16: no group of 8 or more columns divides {}", parts.get(0).tensor(), rows, cols, cols);
      return bf16(parts);
    }
    PackedWeights packed = PackedWeights.allocate(quantization.bits(), rows, cols, group);
    // read in slices of whole blocks (about 8 MiB of bfloat16), each quantized before the next is read
    int sliceRows = Math.max(1, (4 << 20) / cols / PackedWeights.BLOCK) * PackedWeights.BLOCK;
    short[] bits = new short[sliceRows * cols];
    float[] block = new float[PackedWeights.BLOCK * cols];
    int filled = 0;
    int b = 0;
    for (Rows r : parts) {
      long first = r.first();
      long end = r.count() < 0 ? index.info(r.tensor()).shape()[0] : r.first() + r.count();
      while (first < end) {
        int take = (int) Math.min(end - first, sliceRows - filled);
        index.readBf16(r.tensor(), first * cols, take * cols, bits, filled * cols);
        first += take;
        filled += take;
        if (filled == sliceRows) {
          b = packBlocks(packed, b, bits, filled, block);
          filled = 0;
        }
      }
    }
    packBlocks(packed, b, bits, filled, block);
    return new QuantizedMatrix(packed);
  }

  /** Packs {@code count} rows of bfloat16 {@code bits} as the blocks from {@code b} on; returns the next block. */
  private static int packBlocks(PackedWeights packed, int b, short[] bits, int count, float[] block) {
    int cols = packed.cols();
    for (int from = 0; from < count; from += PackedWeights.BLOCK) {
      int n = Math.min(PackedWeights.BLOCK, count - from);
      for (int i = 0; i < n * cols; i++) block[i] = Float.intBitsToFloat(bits[from * cols + i] << 16);
      packed.pack(b++, block, n);
    }
    return b;
  }

  private Bf16Matrix bf16(List<Rows> parts) {
    long[] shape = shape(parts);
    long total = shape[0];
    long cols = shape[1];
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
