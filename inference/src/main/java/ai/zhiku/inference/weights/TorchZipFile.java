package ai.zhiku.inference.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads the table of contents of a {@code torch.save} file: a zip archive (entries stored, not
 * compressed) with {@code <top>/data.pkl}, the pickled state dict, and one entry
 * {@code <top>/data/<key>} per storage. The top folder name is whatever the archive uses.
 * Storage bytes are never copied here; their positions in the file are recorded.
 */
final class TorchZipFile {
  private static final int EOCD_SIG = 0x06054b50;
  private static final int ZIP64_LOCATOR_SIG = 0x07064b50;
  private static final int ZIP64_EOCD_SIG = 0x06064b50;
  private static final int CEN_SIG = 0x02014b50;
  private static final int LOC_SIG = 0x04034b50;

  private TorchZipFile() {}

  private record Entry(String name, int method, long compressedSize, long size, long localHeaderOffset) {}

  static Map<String, StoredTensor> read(Path path, String fileName) {
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long fileSize = ch.size();
      Map<String, Entry> entries = centralDirectory(ch, fileSize, fileName);
      String pklName = null;
      for (String n : entries.keySet()) {
        if (n.equals("data.pkl") || n.endsWith("/data.pkl")) {
          pklName = n;
          break;
        }
      }
      if (pklName == null) throw new CheckpointException(fileName + " has no data.pkl: not a torch.save archive");
      String top = pklName.substring(0, pklName.length() - "data.pkl".length());
      Entry byteorder = entries.get(top + "byteorder");
      if (byteorder != null) {
        String order = new String(entryBytes(ch, byteorder, fileSize, fileName).array(), StandardCharsets.US_ASCII).trim();
        if (!order.equals("little")) throw new CheckpointException(fileName + " stores " + order + "-endian data; only little-endian is supported");
      }
      ByteBuffer pkl = entryBytes(ch, entries.get(pklName), fileSize, fileName);
      Object root = new PickleReader(pkl, fileName).load();
      if (!(root instanceof Map<?, ?> dict)) {
        throw new CheckpointException(fileName + ": data.pkl does not hold a state dict");
      }
      Map<String, StoredTensor> out = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : dict.entrySet()) {
        if (!(e.getKey() instanceof String key) || !(e.getValue() instanceof PickleReader.TensorRef ref)) continue;
        Entry storageEntry = entries.get(top + "data/" + ref.storageKey());
        if (storageEntry == null) {
          throw new CheckpointException(fileName + " is truncated or damaged: storage " + ref.storageKey()
              + " of tensor " + key + " is missing");
        }
        if (storageEntry.method() != 0) {
          throw new CheckpointException(fileName + ": storage of " + key + " is compressed; only stored entries are supported");
        }
        long dataPos = dataPosition(ch, storageEntry, fileName);
        if (dataPos + storageEntry.size() > fileSize) {
          throw new CheckpointException(fileName + " is truncated: storage of tensor " + key + " runs past the end");
        }
        TensorInfo info = new TensorInfo(key, ref.dtype(), ref.shape(), fileName);
        long needed = 0;
        if (info.numel() > 0) {
          needed = ref.offset();
          long[] shape = ref.shape();
          for (int i = 0; i < shape.length; i++) needed += (shape[i] - 1) * ref.strides()[i];
          needed = (needed + 1) * ref.dtype().bytes();
        }
        if (needed > storageEntry.size()) {
          throw new CheckpointException(fileName + ": tensor " + key + " needs " + needed
              + " bytes of its storage, which has " + storageEntry.size());
        }
        out.put(key, new StoredTensor(info, path, dataPos, storageEntry.size(), ref.offset(), ref.strides()));
      }
      return out;
    } catch (IOException e) {
      throw new CheckpointException("cannot read " + fileName + ": " + e.getMessage(), e);
    }
  }

  private static Map<String, Entry> centralDirectory(FileChannel ch, long fileSize, String fileName) throws IOException {
    int tail = (int) Math.min(fileSize, 65_557);
    ByteBuffer end = ByteBuffer.allocate(tail).order(ByteOrder.LITTLE_ENDIAN);
    SafetensorsFile.readFully(ch, end, fileSize - tail);
    int eocd = -1;
    for (int i = tail - 22; i >= 0; i--) {
      if (end.getInt(i) == EOCD_SIG) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new CheckpointException(fileName + " is truncated or not a torch.save zip archive (no end of central directory)");
    long count = Short.toUnsignedInt(end.getShort(eocd + 10));
    long cdSize = Integer.toUnsignedLong(end.getInt(eocd + 12));
    long cdOffset = Integer.toUnsignedLong(end.getInt(eocd + 16));
    if (eocd >= 20 && end.getInt(eocd - 20) == ZIP64_LOCATOR_SIG) {
      long z64 = end.getLong(eocd - 20 + 8);
      ByteBuffer rec = ByteBuffer.allocate(56).order(ByteOrder.LITTLE_ENDIAN);
      SafetensorsFile.readFully(ch, rec, z64);
      if (rec.getInt(0) != ZIP64_EOCD_SIG) throw new CheckpointException(fileName + ": damaged zip64 record");
      count = rec.getLong(32);
      cdSize = rec.getLong(40);
      cdOffset = rec.getLong(48);
    }
    if (cdOffset + cdSize > fileSize || cdSize > Integer.MAX_VALUE) {
      throw new CheckpointException(fileName + " is truncated (central directory outside the file)");
    }
    ByteBuffer cd = ByteBuffer.allocate((int) cdSize).order(ByteOrder.LITTLE_ENDIAN);
    SafetensorsFile.readFully(ch, cd, cdOffset);
    Map<String, Entry> entries = new HashMap<>();
    int p = 0;
    for (long i = 0; i < count; i++) {
      if (cd.getInt(p) != CEN_SIG) throw new CheckpointException(fileName + ": damaged zip central directory");
      int method = Short.toUnsignedInt(cd.getShort(p + 10));
      long csize = Integer.toUnsignedLong(cd.getInt(p + 20));
      long usize = Integer.toUnsignedLong(cd.getInt(p + 24));
      int nameLen = Short.toUnsignedInt(cd.getShort(p + 28));
      int extraLen = Short.toUnsignedInt(cd.getShort(p + 30));
      int commentLen = Short.toUnsignedInt(cd.getShort(p + 32));
      long local = Integer.toUnsignedLong(cd.getInt(p + 42));
      byte[] nameBytes = new byte[nameLen];
      cd.get(p + 46, nameBytes);
      int x = p + 46 + nameLen;
      int xEnd = x + extraLen;
      while (x + 4 <= xEnd) {
        int id = Short.toUnsignedInt(cd.getShort(x));
        int len = Short.toUnsignedInt(cd.getShort(x + 2));
        if (id == 1) {
          int q = x + 4;
          if (usize == 0xFFFFFFFFL) { usize = cd.getLong(q); q += 8; }
          if (csize == 0xFFFFFFFFL) { csize = cd.getLong(q); q += 8; }
          if (local == 0xFFFFFFFFL) { local = cd.getLong(q); }
        }
        x += 4 + len;
      }
      String name = new String(nameBytes, StandardCharsets.UTF_8);
      entries.put(name, new Entry(name, method, csize, usize, local));
      p = xEnd + commentLen;
    }
    return entries;
  }

  private static long dataPosition(FileChannel ch, Entry e, String fileName) throws IOException {
    ByteBuffer loc = ByteBuffer.allocate(30).order(ByteOrder.LITTLE_ENDIAN);
    SafetensorsFile.readFully(ch, loc, e.localHeaderOffset());
    if (loc.getInt(0) != LOC_SIG) throw new CheckpointException(fileName + ": damaged zip entry " + e.name());
    return e.localHeaderOffset() + 30 + Short.toUnsignedInt(loc.getShort(26)) + Short.toUnsignedInt(loc.getShort(28));
  }

  private static ByteBuffer entryBytes(FileChannel ch, Entry e, long fileSize, String fileName) throws IOException {
    if (e.method() != 0) throw new CheckpointException(fileName + ": entry " + e.name() + " is compressed; only stored entries are supported");
    long pos = dataPosition(ch, e, fileName);
    if (pos + e.size() > fileSize) throw new CheckpointException(fileName + " is truncated: entry " + e.name() + " runs past the end");
    ByteBuffer buf = ByteBuffer.allocate((int) e.size());
    SafetensorsFile.readFully(ch, buf, pos);
    return buf.flip();
  }
}
