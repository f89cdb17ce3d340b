package ai.zhiku.inference.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import ai.zhiku.inference.kernel.Bf16Matmul;

/**
 * Keys and values of every layer in a pool of fixed-size blocks, allocated once in its own manager:
 * per layer one K and one V array of [blocks, kvHeads, blockSize, headDim]. A sequence's position p
 * lives in block {@code table[p / blockSize]} at row {@code p % blockSize} of its block table; which
 * blocks a sequence holds is the engine's business ({@code BlockPool}), the cache only stores.
 *
 * <p>The cache of a model whose layers run on the native kernel (bfloat16 weights) stores bfloat16,
 * half the bytes of a float32 cache, in byte arrays that only the native attention reads
 * (PyTorch's JNI here cannot hold bfloat16 tensors); every other cache stores the activation type.
 *
 * <p>On the CPU the arrays are allocated uninitialised, so memory becomes resident only as blocks
 * are used. The native attention reads only rows it wrote; PyTorch's batched decode attention also
 * reads masked-out rows (the rest of a sequence's last block), where garbage could be NaN and
 * poison the masked sum, so {@link #zeroUnused} clears each block before PyTorch first reads it.
 */
public final class KvCache implements AutoCloseable {
  /** Tokens per block. */
  public static final int DEFAULT_BLOCK_SIZE = 16;

  private final NDManager manager;
  private final NDArray[] keys;
  private final NDArray[] values;
  private final int blocks;
  private final int blockSize;
  private final ByteBuffer[][] views;
  private final int kvHeads;
  private final int headDim;
  /** Whether the arrays hold bfloat16 (as bytes) for the native attention only. */
  private final boolean packedBf16;
  /** Blocks known to hold finite values (zeroed or written through {@link #zeroUnused}). */
  private final java.util.BitSet clean = new java.util.BitSet();

  /**
   * @param packedBf16 store bfloat16 for the native attention (CPU only); else {@code dtype}
   */
  public KvCache(NDManager parent, ModelConfig cfg, int blocks, int blockSize, DataType dtype, boolean packedBf16) {
    if (blocks < 1 || blockSize < 1 || blockSize % 4 != 0) {
      throw new IllegalArgumentException("a KV cache needs at least one block of a multiple of 4 tokens");
    }
    this.manager = parent.newSubManager();
    this.blocks = blocks;
    this.blockSize = blockSize;
    this.keys = new NDArray[cfg.numLayers()];
    this.values = new NDArray[cfg.numLayers()];
    this.views = new ByteBuffer[cfg.numLayers()][];
    this.kvHeads = cfg.numKvHeads();
    this.headDim = cfg.headDim();
    this.packedBf16 = packedBf16;
    boolean cpu = manager.getDevice().equals(Device.cpu());
    if (packedBf16 && !cpu) throw new IllegalArgumentException("a bfloat16 cache is for the CPU's native attention");
    Shape shape = new Shape(blocks, cfg.numKvHeads(), blockSize, packedBf16 ? 2L * cfg.headDim() : cfg.headDim());
    if (packedBf16) dtype = DataType.UINT8;
    for (int l = 0; l < cfg.numLayers(); l++) {
      keys[l] = cpu ? manager.create(shape, dtype) : manager.zeros(shape, dtype);
      values[l] = cpu ? manager.create(shape, dtype) : manager.zeros(shape, dtype);
    }
    if (!cpu) clean.set(0, blocks);
  }

  /** Zeroes the blocks among the first {@code used} of {@code table} that were never cleared, before PyTorch reads them. */
  void zeroUnused(int[] table, int used) {
    for (int i = 0; i < used; i++) {
      int b = table[i];
      if (clean.get(b)) continue;
      int end = b + 1; // a run of consecutive unclean blocks in one op per array
      while (i + 1 < used && table[i + 1] == end && !clean.get(end)) {
        end++;
        i++;
      }
      NDIndex run = new NDIndex("{}:{}", b, end);
      try (NDManager scope = manager.newSubManager()) { // a scalar set would leave an array in the cache's manager
        NDArray zero = scope.zeros(new Shape(end - b, kvHeads, blockSize, headDim), keys[0].getDataType());
        for (int l = 0; l < keys.length; l++) {
          keys[l].set(run, zero);
          values[l].set(run, zero);
        }
      }
      clean.set(b, end);
    }
  }

  /** Bytes one token takes in a cache of values of {@code valueBytes} for this model (all layers, keys and values). */
  public static long bytesPerToken(ModelConfig cfg, int valueBytes) {
    return 2L * cfg.numLayers() * cfg.numKvHeads() * cfg.headDim() * valueBytes;
  }

  /** Whether the cache holds bfloat16 for the native attention. */
  boolean packedBf16() { return packedBf16; }

  public int blocks() { return blocks; }

  public int blockSize() { return blockSize; }

  /**
   * Writes one row per token: k, v [n, kvHeads, headDim] at rows (blocks[t], offsets[t]), both
   * index arrays of length n.
   */
  void writeTokens(int layer, NDArray blockIndex, NDArray offsets, NDArray k, NDArray v) {
    torchOnly();
    NDIndex at = new NDIndex("{}, :, {}", blockIndex, offsets);
    keys[layer].set(at, k);
    values[layer].set(at, v);
  }

  /** Keys of positions 0..length of the sequence with this block table, [kvHeads, length, headDim], owned by {@code step}. */
  NDArray keys(NDManager step, int layer, NDArray table, int length) {
    return gather(step, keys[layer], table, length);
  }

  NDArray values(NDManager step, int layer, NDArray table, int length) {
    return gather(step, values[layer], table, length);
  }

  private void torchOnly() {
    if (packedBf16) throw new IllegalStateException("a bfloat16 cache is read by the native attention only");
  }

  private NDArray gather(NDManager step, NDArray cache, NDArray table, int length) {
    torchOnly();
    long used = table.getShape().get(0);
    return cache.get(step, new NDIndex("{}", table)) // [used, kvHeads, bs, hd]
        .transpose(1, 0, 2, 3).reshape(kvHeads, used * blockSize, headDim)
        .get(new NDIndex(":, :{}, :", length));
  }

  /**
   * Keys of positions 0..length of several sequences, [batch, kvHeads, length, headDim]: {@code tables}
   * is [batch, used], each row a block table padded with any valid block (the rows it stands for
   * must be masked by the caller).
   */
  NDArray keysBatch(NDManager step, int layer, NDArray tables, int length) {
    return gatherBatch(step, keys[layer], tables, length);
  }

  NDArray valuesBatch(NDManager step, int layer, NDArray tables, int length) {
    return gatherBatch(step, values[layer], tables, length);
  }

  private NDArray gatherBatch(NDManager step, NDArray cache, NDArray tables, int length) {
    torchOnly();
    long b = tables.getShape().get(0);
    long used = tables.getShape().get(1);
    return cache.get(step, new NDIndex("{}", tables)) // [b, used, kvHeads, bs, hd]
        .transpose(0, 2, 1, 3, 4).reshape(b, kvHeads, used * blockSize, headDim)
        .get(new NDIndex(":, :, :{}, :", length));
  }

  /** Whether {@link #buffers} can be had: a float32 or bfloat16 CPU cache of at most 2 GiB per layer tensor. */
  boolean hasBuffers() {
    return (packedBf16 || keys[0].getDataType() == DataType.FLOAT32) && keys[0].getDevice().equals(Device.cpu())
        && (packedBf16 ? 2L : 4L) * blocks * kvHeads * blockSize * headDim <= Integer.MAX_VALUE;
  }

  /** Most blocks a CPU cache of values of {@code valueBytes} can have and still give {@link #buffers}. */
  public static int maxBufferedBlocks(ModelConfig cfg, int blockSize, int valueBytes) {
    return (int) Math.min(Integer.MAX_VALUE, Integer.MAX_VALUE / ((long) valueBytes * cfg.numKvHeads() * blockSize * cfg.headDim()));
  }

  /**
   * Direct buffers over layer {@code layer}'s keys and values (the tensors' own memory, a live view,
   * native order) for attention computed outside PyTorch; only for float32 caches on the CPU.
   * Valid while the cache is open.
   */
  ByteBuffer[] buffers(int layer) {
    ByteBuffer[] b = views[layer];
    if (b == null) {
      if (!hasBuffers()) throw new IllegalStateException("only float32 or bfloat16 CPU caches of at most 2 GiB per layer have buffers");
      b = views[layer] = new ByteBuffer[] {
          keys[layer].toByteBuffer(true).order(ByteOrder.nativeOrder()),
          values[layer].toByteBuffer(true).order(ByteOrder.nativeOrder())};
      if (!b[0].isDirect() || !b[1].isDirect()) throw new IllegalStateException("the cache's buffers are not direct");
    }
    return b;
  }

  /**
   * Writes new keys and values of {@code n} tokens: token t's kv head h is read from
   * {@code rows[t * stride + kOffset + h * hd]} (keys) and {@code vOffset} (values), and lands in
   * block {@code tables[starts[t] + positions[t] / blockSize]} at row {@code positions[t] % blockSize}
   * (rounded to bfloat16, to nearest even, in a bfloat16 cache).
   */
  void writeRows(int layer, int[] tables, int[] starts, int[] positions, float[] rows, int stride, int kOffset, int vOffset) {
    ByteBuffer[] b = buffers(layer);
    FloatBuffer k = packedBf16 ? null : b[0].asFloatBuffer();
    FloatBuffer v = packedBf16 ? null : b[1].asFloatBuffer();
    ShortBuffer k16 = packedBf16 ? b[0].asShortBuffer() : null;
    ShortBuffer v16 = packedBf16 ? b[1].asShortBuffer() : null;
    // the step's rows rounded at once (vectorised), then bulk copies: a rounding and a put per element
    // were a third of a 16-sequence decode step's Java time
    short[] rounded = null;
    if (packedBf16) {
      rounded = ROUNDED.get();
      int n = positions.length * stride;
      if (rounded.length < n) ROUNDED.set(rounded = new short[n]);
      Bf16Matmul.round(rows, rounded, n);
    }
    for (int t = 0; t < positions.length; t++) {
      int entry = positions[t] < 0 ? -1 : starts[t] + positions[t] / blockSize;
      int block = entry < 0 || entry >= tables.length ? -1 : tables[entry];
      if (block < 0 || block >= blocks) {
        throw new IllegalArgumentException("token " + t + " at position " + positions[t] + " has no block in the cache");
      }
      for (int h = 0; h < kvHeads; h++) {
        int at = ((block * kvHeads + h) * blockSize + positions[t] % blockSize) * headDim;
        int kFrom = t * stride + kOffset + h * headDim;
        int vFrom = t * stride + vOffset + h * headDim;
        if (packedBf16) {
          k16.put(at, rounded, kFrom, headDim);
          v16.put(at, rounded, vFrom, headDim);
        } else {
          k.put(at, rows, kFrom, headDim);
          v.put(at, rows, vFrom, headDim);
        }
      }
    }
  }

  private static final ThreadLocal<short[]> ROUNDED = ThreadLocal.withInitial(() -> new short[0]);

  /** Number of native arrays the cache holds (constant: 2 per layer). */
  public int arrayCount() { return manager.getManagedArrays().size(); }

  @Override
  public void close() { manager.close(); }
}
