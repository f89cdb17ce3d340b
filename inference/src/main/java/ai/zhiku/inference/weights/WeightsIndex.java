package ai.zhiku.inference.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.zhiku.inference.kernel.Bf16;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * All tensors of a Hugging Face checkpoint directory, whatever the format: safetensors (single
 * {@code model.safetensors} or sharded with {@code model.safetensors.index.json}) or PyTorch
 * {@code .bin} (single {@code pytorch_model.bin} or sharded with
 * {@code pytorch_model.bin.index.json}). Opening reads only the headers; tensor data is
 * memory-mapped when asked for, one tensor at a time, so no second full copy of the model is
 * ever held.
 */
public final class WeightsIndex implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Map<String, StoredTensor> tensors;
  private final String format;

  private WeightsIndex(Map<String, StoredTensor> tensors, String format) {
    this.tensors = tensors;
    this.format = format;
  }

  /** Opens the checkpoint in {@code dir}; safetensors is preferred when both formats are present. */
  public static WeightsIndex open(Path dir) {
    if (Files.isRegularFile(dir.resolve("model.safetensors.index.json"))) {
      return sharded(dir, "model.safetensors.index.json", "safetensors");
    }
    if (Files.isRegularFile(dir.resolve("model.safetensors"))) {
      return new WeightsIndex(SafetensorsFile.read(dir.resolve("model.safetensors"), "model.safetensors"), "safetensors");
    }
    if (Files.isRegularFile(dir.resolve("pytorch_model.bin.index.json"))) {
      return sharded(dir, "pytorch_model.bin.index.json", "pytorch");
    }
    if (Files.isRegularFile(dir.resolve("pytorch_model.bin"))) {
      return new WeightsIndex(TorchZipFile.read(dir.resolve("pytorch_model.bin"), "pytorch_model.bin"), "pytorch");
    }
    throw new CheckpointException("no weights in the model directory: expected model.safetensors, "
        + "model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json");
  }

  private static WeightsIndex sharded(Path dir, String indexName, String format) {
    JsonNode weightMap;
    try {
      weightMap = JSON.readTree(dir.resolve(indexName).toFile()).path("weight_map");
    } catch (IOException e) {
      throw new CheckpointException("cannot parse " + indexName + ": " + e.getMessage(), e);
    }
    if (!weightMap.isObject() || weightMap.isEmpty()) {
      throw new CheckpointException(indexName + " has no weight_map");
    }
    Map<String, String> wanted = new LinkedHashMap<>();
    Set<String> shards = new LinkedHashSet<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      wanted.put(e.getKey(), e.getValue().asText());
      shards.add(e.getValue().asText());
    }
    Map<String, StoredTensor> all = new LinkedHashMap<>();
    for (String shard : shards) {
      Path p = dir.resolve(shard).normalize();
      if (!p.startsWith(dir.normalize()) || !Files.isRegularFile(p)) {
        throw new CheckpointException("shard " + shard + " named in " + indexName + " is missing");
      }
      all.putAll(format.equals("safetensors") ? SafetensorsFile.read(p, shard) : TorchZipFile.read(p, shard));
    }
    Map<String, StoredTensor> out = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : wanted.entrySet()) {
      StoredTensor t = all.get(e.getKey());
      if (t == null || !t.info().file().equals(e.getValue())) {
        throw new CheckpointException("tensor " + e.getKey() + " is not in " + e.getValue() + " as " + indexName + " says");
      }
      out.put(e.getKey(), t);
    }
    return new WeightsIndex(out, format);
  }

  /** "safetensors" or "pytorch". */
  public String format() { return format; }

  /** Tensor names, in checkpoint order. */
  public Set<String> names() { return Collections.unmodifiableSet(tensors.keySet()); }

  public boolean contains(String name) { return tensors.containsKey(name); }

  public TensorInfo info(String name) { return stored(name).info(); }

  private StoredTensor stored(String name) {
    StoredTensor t = tensors.get(name);
    if (t == null) throw new CheckpointException("the checkpoint has no tensor " + name);
    return t;
  }

  /**
   * The tensor's bytes, contiguous row-major and little-endian. Contiguous tensors come back as
   * a read-only memory map of the file; strided views are gathered into a new direct buffer.
   */
  public ByteBuffer bytes(String name) {
    StoredTensor t = stored(name);
    TensorInfo info = t.info();
    int es = info.dtype().bytes();
    long len = info.byteSize();
    try (FileChannel ch = FileChannel.open(t.path(), StandardOpenOption.READ)) {
      if (t.contiguous()) {
        if (len == 0) return ByteBuffer.allocateDirect(0).order(ByteOrder.LITTLE_ENDIAN);
        return ch.map(FileChannel.MapMode.READ_ONLY, t.storageOffset() + t.elementOffset() * es, len)
            .order(ByteOrder.LITTLE_ENDIAN);
      }
      ByteBuffer storage = ch.map(FileChannel.MapMode.READ_ONLY, t.storageOffset(), t.storageBytes());
      ByteBuffer out = ByteBuffer.allocateDirect(Math.toIntExact(len)).order(ByteOrder.LITTLE_ENDIAN);
      long[] shape = info.shape();
      long[] strides = t.strides();
      long[] idx = new long[shape.length];
      long n = info.numel();
      for (long i = 0; i < n; i++) {
        long src = t.elementOffset();
        for (int d = 0; d < shape.length; d++) src += idx[d] * strides[d];
        for (int b = 0; b < es; b++) out.put(storage.get(Math.toIntExact(src * es + b)));
        for (int d = shape.length - 1; d >= 0; d--) {
          if (++idx[d] < shape[d]) break;
          idx[d] = 0;
        }
      }
      return out.flip();
    } catch (IOException e) {
      throw new CheckpointException("cannot read tensor " + name + " from " + info.file() + ": " + e.getMessage(), e);
    }
  }

  /** The tensor's values widened to float32, row-major. */
  public float[] floats(String name) {
    TensorInfo info = info(name);
    if (!info.dtype().isFloating()) throw new CheckpointException("tensor " + name + " is " + info.dtype() + ", not floating point");
    ByteBuffer b = bytes(name);
    float[] out = new float[Math.toIntExact(info.numel())];
    switch (info.dtype()) {
      case F32 -> b.asFloatBuffer().get(out);
      case F16 -> { for (int i = 0; i < out.length; i++) out[i] = Float.float16ToFloat(b.getShort(i * 2)); }
      case BF16 -> { for (int i = 0; i < out.length; i++) out[i] = Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16); }
      case F64 -> { for (int i = 0; i < out.length; i++) out[i] = (float) b.getDouble(i * 8); }
      default -> throw new IllegalStateException();
    }
    return out;
  }

  /** An integer tensor's values as int, row-major: I32 as stored, I8 sign-extended, U8 unsigned, I64 narrowed when it fits. */
  public int[] ints(String name) {
    TensorInfo info = info(name);
    ByteBuffer b = bytes(name);
    int[] out = new int[Math.toIntExact(info.numel())];
    switch (info.dtype()) {
      case I32 -> b.asIntBuffer().get(out);
      case I8 -> { for (int i = 0; i < out.length; i++) out[i] = b.get(i); }
      case U8 -> { for (int i = 0; i < out.length; i++) out[i] = b.get(i) & 0xFF; }
      case I64 -> {
        for (int i = 0; i < out.length; i++) {
          long v = b.getLong(i * 8);
          if (v != (int) v) throw new CheckpointException("tensor " + name + " holds " + v + ", outside 32 bits");
          out[i] = (int) v;
        }
      }
      default -> throw new CheckpointException("tensor " + name + " is " + info.dtype() + ", not an integer tensor");
    }
    return out;
  }

  /**
   * The tensor as an array owned by {@code manager}, converted to {@code type} (null: float32
   * for bfloat16 storage, else the stored type). The result is a private copy, never a view of
   * the mapped file. bfloat16 storage is widened in Java first (exact): DJL 0.35.1's PyTorch JNI
   * aborts the process on any bfloat16 array, so bfloat16 is never handed to it.
   */
  public NDArray toNDArray(String name, NDManager manager, DataType type) {
    TensorInfo info = info(name);
    Shape shape = new Shape(info.shape());
    if (type == DataType.BFLOAT16) {
      throw new UnsupportedOperationException("bfloat16 arrays are not supported by the PyTorch JNI of DJL 0.35.1");
    }
    NDArray raw;
    if (info.dtype() == TensorDType.BF16) {
      raw = manager.create(floats(name), shape);
    } else {
      raw = manager.create(bytes(name), shape, info.dtype().djlType());
    }
    DataType target = type == null ? raw.getDataType() : type;
    if (raw.getDataType() == target) {
      // create() wraps the mapped file; take a private copy so the array never points into it
      NDArray copy = raw.duplicate();
      raw.close();
      return copy;
    }
    NDArray out = raw.toType(target, false);
    raw.close();
    return out;
  }

  /** Bytes read per positional read when streaming a tensor. */
  private static final int READ_CHUNK = 8 << 20;

  /**
   * Elements [from, from + count) of a tensor as bfloat16 into {@code dst} at {@code at}: copied
   * when stored as bfloat16, else rounded to nearest even. Contiguous tensors are streamed with
   * positional reads through an 8 MiB buffer instead of being mapped, so loading never holds a
   * mapped copy of the checkpoint in the process (mappings are only released by the collector).
   */
  public void readBf16(String name, long from, int count, short[] dst, int at) {
    StoredTensor t = stored(name);
    TensorInfo info = t.info();
    if (from < 0 || count < 0 || from + count > info.numel()) {
      throw new IndexOutOfBoundsException("elements " + from + ".." + (from + count) + " of " + name + " (" + info.numel() + ")");
    }
    if (!info.dtype().isFloating()) throw new CheckpointException("tensor " + name + " is " + info.dtype() + ", not floating point");
    int es = info.dtype().bytes();
    if (!t.contiguous()) {
      convert(info.dtype(), bytes(name).position(Math.toIntExact(from * es)).slice().order(ByteOrder.LITTLE_ENDIAN), count, dst, at);
      return;
    }
    long pos = t.storageOffset() + (t.elementOffset() + from) * es;
    ByteBuffer buf = ByteBuffer.allocateDirect((int) Math.min(READ_CHUNK, Math.max(es, (long) count * es))).order(ByteOrder.LITTLE_ENDIAN);
    try (FileChannel ch = FileChannel.open(t.path(), StandardOpenOption.READ)) {
      int done = 0;
      while (done < count) {
        int n = Math.min(count - done, buf.capacity() / es);
        buf.clear().limit(n * es);
        while (buf.hasRemaining()) {
          if (ch.read(buf, pos + (long) done * es + buf.position()) < 0) {
            throw new CheckpointException(info.file() + " is truncated: tensor " + name + " ends past the end of the file");
          }
        }
        convert(info.dtype(), buf.flip(), n, dst, at + done);
        done += n;
      }
    } catch (IOException e) {
      throw new CheckpointException("cannot read tensor " + name + " from " + info.file() + ": " + e.getMessage(), e);
    }
  }

  private static void convert(TensorDType type, ByteBuffer b, int n, short[] dst, int at) {
    switch (type) {
      case BF16 -> b.asShortBuffer().get(dst, at, n);
      case F32 -> { for (int i = 0; i < n; i++) dst[at + i] = Bf16.fromFloat(b.getFloat(i * 4)); }
      case F16 -> { for (int i = 0; i < n; i++) dst[at + i] = Bf16.fromFloat(Float.float16ToFloat(b.getShort(i * 2))); }
      case F64 -> { for (int i = 0; i < n; i++) dst[at + i] = Bf16.fromFloat((float) b.getDouble(i * 8)); }
      default -> throw new IllegalStateException(type.toString());
    }
  }

  /** Nothing to release eagerly: mappings are freed when their buffers are collected. */
  @Override
  public void close() {}
}
