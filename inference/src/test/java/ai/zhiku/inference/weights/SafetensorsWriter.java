package ai.zhiku.inference.weights;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writes a single model.safetensors of the tensors added (tests: checkpoints in layouts we have no file of). */
public final class SafetensorsWriter {
  private record Entry(String dtype, long[] shape, byte[] data) {}

  private final Map<String, Entry> tensors = new LinkedHashMap<>();

  public SafetensorsWriter f32(String name, float[] v, long... shape) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : v) b.putFloat(f);
    return add(name, "F32", shape, b.array());
  }

  public SafetensorsWriter f16(String name, float[] v, long... shape) {
    ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : v) b.putShort(Float.floatToFloat16(f));
    return add(name, "F16", shape, b.array());
  }

  public SafetensorsWriter i32(String name, int[] v, long... shape) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int i : v) b.putInt(i);
    return add(name, "I32", shape, b.array());
  }

  public SafetensorsWriter i8(String name, byte[] v, long... shape) {
    return add(name, "I8", shape, v.clone());
  }

  private SafetensorsWriter add(String name, String dtype, long[] shape, byte[] data) {
    long n = 1;
    for (long d : shape) n *= d;
    int size = switch (dtype) { case "F32", "I32" -> 4; case "F16" -> 2; default -> 1; };
    if (n * size != data.length) throw new IllegalArgumentException(name + ": " + data.length + " bytes for " + n + " elements");
    tensors.put(name, new Entry(dtype, shape.clone(), data));
    return this;
  }

  public void write(Path file) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode header = json.createObjectNode();
    long offset = 0;
    for (Map.Entry<String, Entry> e : tensors.entrySet()) {
      ObjectNode t = header.putObject(e.getKey());
      t.put("dtype", e.getValue().dtype());
      var shape = t.putArray("shape");
      for (long d : e.getValue().shape()) shape.add(d);
      t.putArray("data_offsets").add(offset).add(offset + e.getValue().data().length);
      offset += e.getValue().data().length;
    }
    byte[] h = json.writeValueAsBytes(header);
    int padded = (h.length + 7) / 8 * 8;
    byte[] head = new byte[padded];
    java.util.Arrays.fill(head, (byte) ' ');
    System.arraycopy(h, 0, head, 0, h.length);
    try (OutputStream out = Files.newOutputStream(file)) {
      out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
      out.write(head);
      for (Entry e : tensors.values()) out.write(e.data());
    }
  }

}
