package ai.zhiku.inference.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Keys and values of every layer, allocated once in its own manager: per layer one K and one V
 * array of [slots, kvHeads, maxLength, headDim]. A sequence owns a slot (an index, not a
 * tensor) while it runs; new keys and values are written in place.
 */
public final class KvCache implements AutoCloseable {
  private final NDManager manager;
  private final NDArray[] keys;
  private final NDArray[] values;
  private final int slots;
  private final int maxLength;
  private final Deque<Integer> free = new ArrayDeque<>();
  private final ByteBuffer[][] views;
  private final int kvHeads;
  private final int headDim;

  public KvCache(NDManager parent, ModelConfig cfg, int slots, int maxLength, DataType dtype) {
    this.manager = parent.newSubManager();
    this.slots = slots;
    this.maxLength = maxLength;
    this.keys = new NDArray[cfg.numLayers()];
    this.values = new NDArray[cfg.numLayers()];
    this.views = new ByteBuffer[cfg.numLayers()][];
    this.kvHeads = cfg.numKvHeads();
    this.headDim = cfg.headDim();
    Shape shape = new Shape(slots, cfg.numKvHeads(), maxLength, cfg.headDim());
    for (int l = 0; l < cfg.numLayers(); l++) {
      keys[l] = manager.zeros(shape, dtype);
      values[l] = manager.zeros(shape, dtype);
    }
    for (int s = 0; s < slots; s++) free.add(s);
  }

  public int slots() { return slots; }

  public int maxLength() { return maxLength; }

  public int freeSlots() { return free.size(); }

  /** A free slot, or -1 when all are taken. */
  public int acquire() {
    Integer s = free.poll();
    return s == null ? -1 : s;
  }

  public void release(int slot) {
    if (slot >= 0 && !free.contains(slot)) free.addFirst(slot);
  }

  /** Writes k, v ([kvHeads, n, headDim]) of layer at positions start..start+n of the slot. */
  void write(int layer, int slot, int start, NDArray k, NDArray v) {
    NDIndex at = new NDIndex("{}, :, {}:{}, :", slot, start, start + k.getShape().get(1));
    keys[layer].set(at, k);
    values[layer].set(at, v);
  }

  /** Writes one new token per sequence: k, v [batch, kvHeads, headDim] at (slots[b], positions[b]). */
  void writeTokens(int layer, NDArray slots, NDArray positions, NDArray k, NDArray v) {
    NDIndex at = new NDIndex("{}, :, {}", slots, positions);
    keys[layer].set(at, k);
    values[layer].set(at, v);
  }

  /**
   * Keys of positions 0..length of several slots, [batch, kvHeads, length, headDim]: a view when
   * the slots are consecutive and ascending, else a gathered copy owned by {@code step}.
   */
  NDArray keys(NDManager step, int layer, int[] slots, NDArray slotIndex, int length) {
    return rows(step, keys[layer], slots, slotIndex, length);
  }

  NDArray values(NDManager step, int layer, int[] slots, NDArray slotIndex, int length) {
    return rows(step, values[layer], slots, slotIndex, length);
  }

  private static NDArray rows(NDManager step, NDArray cache, int[] slots, NDArray slotIndex, int length) {
    boolean consecutive = true;
    for (int i = 1; i < slots.length; i++) consecutive &= slots[i] == slots[0] + i;
    if (consecutive) return cache.get(step, new NDIndex("{}:{}, :, :{}, :", slots[0], slots[0] + slots.length, length));
    return cache.get(step, new NDIndex("{}, :, :{}, :", slotIndex, length));
  }

  /** Keys of positions 0..length of the slot, [kvHeads, length, headDim], owned by {@code step}. */
  NDArray keys(NDManager step, int layer, int slot, int length) {
    return keys[layer].get(step, new NDIndex("{}, :, :{}, :", slot, length));
  }

  NDArray values(NDManager step, int layer, int slot, int length) {
    return values[layer].get(step, new NDIndex("{}, :, :{}, :", slot, length));
  }

  /** Whether {@link #buffers} can be had: a float32 CPU cache of at most 2 GiB per layer tensor. */
  boolean hasBuffers() {
    return keys[0].getDataType() == DataType.FLOAT32 && keys[0].getDevice().equals(Device.cpu())
        && 4L * slots * kvHeads * maxLength * headDim <= Integer.MAX_VALUE;
  }

  /**
   * Direct buffers over layer {@code layer}'s keys and values (the tensors' own memory, a live view,
   * native order) for attention computed outside PyTorch; only for float32 caches on the CPU.
   * Valid while the cache is open.
   */
  ByteBuffer[] buffers(int layer) {
    ByteBuffer[] b = views[layer];
    if (b == null) {
      if (!hasBuffers()) throw new IllegalStateException("only float32 CPU caches of at most 2 GiB have buffers");
      b = views[layer] = new ByteBuffer[] {
          keys[layer].toByteBuffer(true).order(ByteOrder.nativeOrder()),
          values[layer].toByteBuffer(true).order(ByteOrder.nativeOrder())};
      if (!b[0].isDirect() || !b[1].isDirect()) throw new IllegalStateException("the cache's buffers are not direct");
    }
    return b;
  }

  /**
   * Writes new keys and values of {@code n} tokens: token t's kv head h is read from
   * {@code rows[t * stride + kOffset + h * hd]} (keys) and {@code vOffset} (values), and lands at
   * (slots[t], h, positions[t]).
   */
  void writeRows(int layer, int[] slots, int[] positions, float[] rows, int stride, int kOffset, int vOffset) {
    ByteBuffer[] b = buffers(layer);
    java.nio.FloatBuffer k = b[0].asFloatBuffer();
    java.nio.FloatBuffer v = b[1].asFloatBuffer();
    for (int t = 0; t < slots.length; t++) {
      if (slots[t] < 0 || slots[t] >= this.slots || positions[t] < 0 || positions[t] >= maxLength) {
        throw new IllegalArgumentException("slot " + slots[t] + " position " + positions[t] + " outside the cache");
      }
      for (int h = 0; h < kvHeads; h++) {
        int at = ((slots[t] * kvHeads + h) * maxLength + positions[t]) * headDim;
        k.put(at, rows, t * stride + kOffset + h * headDim, headDim);
        v.put(at, rows, t * stride + vOffset + h * headDim, headDim);
      }
    }
  }

  /** Number of native arrays the cache holds (constant: 2 per layer). */
  public int arrayCount() { return manager.getManagedArrays().size(); }

  @Override
  public void close() { manager.close(); }
}
