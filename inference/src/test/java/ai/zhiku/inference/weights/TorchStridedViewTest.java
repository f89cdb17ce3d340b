package ai.zhiku.inference.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hand-written torch.save archive with a strided view at a storage offset (what
 * {@code t[..., 1:].T} saves as), in a top folder with an arbitrary name.
 */
class TorchStridedViewTest {

  private static void str(ByteArrayOutputStream p, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    p.write('X');
    p.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length).array());
    p.writeBytes(b);
  }

  private static void global(ByteArrayOutputStream p, String module, String name) {
    p.write('c');
    p.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
  }

  private static void int1(ByteArrayOutputStream p, int v) {
    p.write('K');
    p.write(v);
  }

  /** {name: _rebuild_tensor_v2(storage "0" of `numel` elements, offset, (2, 3), strides)}. */
  static byte[] pickle(String name, String storageType, int numel, int offset, int s0, int s1) {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    p.write(0x80);
    p.write(2);
    p.write('}');
    p.write('(');
    str(p, name);
    global(p, "torch._utils", "_rebuild_tensor_v2");
    p.write('(');
    p.write('(');
    str(p, "storage");
    global(p, "torch", storageType);
    str(p, "0");
    str(p, "cpu");
    int1(p, numel);
    p.write('t');
    p.write('Q');
    int1(p, offset);
    int1(p, 2);
    int1(p, 3);
    p.write(0x86);
    int1(p, s0);
    int1(p, s1);
    p.write(0x86);
    p.write(0x89);
    global(p, "collections", "OrderedDict");
    p.write(')');
    p.write('R');
    p.write('t');
    p.write('R');
    p.write('u');
    p.write('.');
    return p.toByteArray();
  }

  static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
    ZipEntry e = new ZipEntry(name);
    e.setMethod(ZipEntry.STORED);
    e.setSize(data.length);
    CRC32 crc = new CRC32();
    crc.update(data);
    e.setCrc(crc.getValue());
    zip.putNextEntry(e);
    zip.write(data);
    zip.closeEntry();
  }

  static void write(Path file, byte[] pkl, byte[] storage) throws IOException {
    try (OutputStream out = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(out)) {
      stored(zip, "some_folder/data.pkl", pkl);
      stored(zip, "some_folder/data/0", storage);
    }
  }

  @Test
  void stridedViewAtAnOffsetIsGathered(@TempDir Path dir) throws IOException {
    ByteBuffer storage = ByteBuffer.allocate(8 * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 8; i++) storage.putFloat(i * 1.5f);
    write(dir.resolve("pytorch_model.bin"), pickle("w", "FloatStorage", 8, 1, 1, 2), storage.array());
    try (WeightsIndex w = WeightsIndex.open(dir)) {
      assertThat(w.info("w").shape()).containsExactly(2, 3);
      // element [i][j] = storage[1 + i + 2j]
      assertThat(w.floats("w")).containsExactly(1.5f, 4.5f, 7.5f, 3f, 6f, 9f);
    }
  }

  @Test
  void halfStorageIsWidened(@TempDir Path dir) throws IOException {
    ByteBuffer storage = ByteBuffer.allocate(6 * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 6; i++) storage.putShort(Float.floatToFloat16(i - 2.5f));
    write(dir.resolve("pytorch_model.bin"), pickle("h", "HalfStorage", 6, 0, 3, 1), storage.array());
    try (WeightsIndex w = WeightsIndex.open(dir)) {
      assertThat(w.info("h").dtype()).isEqualTo(TensorDType.F16);
      assertThat(w.floats("h")).containsExactly(-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f);
    }
  }

  @Test
  void viewReachingPastItsStorageIsRefused(@TempDir Path dir) throws IOException {
    write(dir.resolve("pytorch_model.bin"), pickle("w", "FloatStorage", 4, 1, 1, 2), new byte[16]);
    assertThatThrownBy(() -> WeightsIndex.open(dir))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("pytorch_model.bin")
        .hasMessageContaining("tensor w");
  }
}
