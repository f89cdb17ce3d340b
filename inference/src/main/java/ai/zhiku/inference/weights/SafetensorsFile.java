package ai.zhiku.inference.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads the table of contents of one safetensors file: an 8-byte little-endian header length,
 * a JSON header ({@code dtype}, {@code shape}, {@code data_offsets} per tensor), then the raw
 * little-endian data. Only the header is read here; data is mapped on demand.
 */
final class SafetensorsFile {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long MAX_HEADER = 100L << 20;

  private SafetensorsFile() {}

  static Map<String, StoredTensor> read(Path path, String fileName) {
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 8) throw new CheckpointException(fileName + " is truncated: " + size + " bytes");
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, lenBuf, 0);
      long headerLen = lenBuf.flip().getLong();
      if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size) {
        throw new CheckpointException(fileName + " is not a safetensors file or is truncated (header length "
            + headerLen + ", file size " + size + ")");
      }
      ByteBuffer header = ByteBuffer.allocate((int) headerLen);
      readFully(ch, header, 8);
      JsonNode root = JSON.readTree(header.array());
      long dataStart = 8 + headerLen;
      Map<String, StoredTensor> out = new LinkedHashMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().equals("__metadata__")) continue;
        JsonNode t = e.getValue();
        TensorDType dtype = TensorDType.fromSafetensors(t.path("dtype").asText());
        if (dtype == null) {
          throw new CheckpointException(fileName + ": tensor " + e.getKey() + " has unsupported dtype "
              + t.path("dtype").asText());
        }
        JsonNode shapeNode = t.path("shape");
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) shape[i] = shapeNode.get(i).asLong();
        long begin = t.path("data_offsets").get(0).asLong();
        long end = t.path("data_offsets").get(1).asLong();
        TensorInfo info = new TensorInfo(e.getKey(), dtype, shape, fileName);
        if (end - begin != info.byteSize()) {
          throw new CheckpointException(fileName + ": tensor " + e.getKey() + " has " + (end - begin)
              + " bytes of data, its shape needs " + info.byteSize());
        }
        if (dataStart + end > size) {
          throw new CheckpointException(fileName + " is truncated: tensor " + e.getKey() + " ends at byte "
              + (dataStart + end) + " but the file has " + size);
        }
        out.put(e.getKey(), new StoredTensor(info, path, dataStart + begin, end - begin, 0, null));
      }
      return out;
    } catch (IOException e) {
      throw new CheckpointException("cannot read " + fileName + ": " + e.getMessage(), e);
    }
  }

  static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) throw new IOException("unexpected end of file");
      pos += n;
    }
  }
}
