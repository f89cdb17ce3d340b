package ai.zhiku.inference.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.engine.Engines;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightsIndexTest {

  /** Streamed bfloat16 reads: bit copies of bfloat16 storage, rounded float32, any element range. */
  @Test
  void readsTensorsAsBfloat16ByStreaming() {
    try (WeightsIndex bf = WeightsIndex.open(Goldens.dir("chatglm2-tiny-bf16"));
         WeightsIndex f32 = WeightsIndex.open(Goldens.dir("chatglm2-tiny"))) {
      for (String name : bf.names()) {
        if (!bf.info(name).dtype().isFloating()) continue;
        int n = Math.toIntExact(bf.info(name).numel());
        short[] fromBf = new short[n];
        bf.readBf16(name, 0, n, fromBf, 0);
        float[] wide = bf.floats(name);
        // bfloat16 storage comes back bit for bit (rounding an exact value is the identity); the
        // few tensors this checkpoint keeps in float32 come back rounded
        for (int i = 0; i < n; i++) assertThat(fromBf[i]).isEqualTo(ai.zhiku.inference.kernel.Bf16.fromFloat(wide[i]));
        short[] rounded = new short[n];
        f32.readBf16(name, 0, n, rounded, 0);
        float[] exact = f32.floats(name);
        for (int i = 0; i < n; i++) assertThat(rounded[i]).isEqualTo(ai.zhiku.inference.kernel.Bf16.fromFloat(exact[i]));
      }
      String emb = "transformer.embedding.word_embeddings.weight";
      short[] part = new short[100];
      bf.readBf16(emb, 32L * 1000 + 5, 90, part, 10);
      float[] all = bf.floats(emb);
      for (int i = 0; i < 90; i++) assertThat(ai.zhiku.inference.kernel.Bf16.toFloat(part[10 + i])).isEqualTo(all[32 * 1000 + 5 + i]);
      assertThatThrownBy(() -> bf.readBf16(emb, all.length - 10, 11, new short[11], 0))
          .isInstanceOf(IndexOutOfBoundsException.class);
    }
  }

  @Test
  void safetensorsAndTorchBinShardsHoldBitIdenticalTensors() {
    Path dir = Goldens.dir("chatglm2-tiny");
    try (WeightsIndex st = WeightsIndex.open(dir);
         WeightsIndex bin = openBin(dir)) {
      assertThat(st.format()).isEqualTo("safetensors");
      assertThat(bin.format()).isEqualTo("pytorch");
      assertThat(bin.names()).containsExactlyInAnyOrderElementsOf(st.names());
      assertThat(st.names()).contains("transformer.encoder.layers.1.mlp.dense_h_to_4h.weight");
      for (String name : st.names()) {
        assertThat(bin.info(name).shape()).as(name).isEqualTo(st.info(name).shape());
        assertThat(bin.info(name).dtype()).isEqualTo(TensorDType.F32);
        assertThat(bin.floats(name)).as(name).isEqualTo(st.floats(name));
      }
      assertThat(st.info("transformer.embedding.word_embeddings.weight").shape()).containsExactly(65024, 32);
    }
  }

  private static WeightsIndex openBin(Path dir) {
    // the directory holds both formats; read the .bin shards through a view without safetensors
    try {
      Path tmp = Files.createTempDirectory("zhiku-bin");
      for (String f : new String[] {"pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"}) {
        Files.createSymbolicLink(tmp.resolve(f), dir.resolve(f).toAbsolutePath());
      }
      tmp.toFile().deleteOnExit();
      return WeightsIndex.open(tmp);
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  @Test
  void bfloat16TorchShardsMatchReaderCheck() {
    JsonNode check = Goldens.json("chatglm2-tiny-bf16", "reader_check.json");
    try (WeightsIndex w = WeightsIndex.open(Goldens.dir("chatglm2-tiny-bf16"))) {
      for (Iterator<Map.Entry<String, JsonNode>> it = check.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        TensorInfo info = w.info(e.getKey());
        JsonNode c = e.getValue();
        assertThat(info.dtype()).isEqualTo(c.get("dtype").asText().equals("torch.bfloat16") ? TensorDType.BF16 : TensorDType.F32);
        long[] shape = new long[c.get("shape").size()];
        for (int i = 0; i < shape.length; i++) shape[i] = c.get("shape").get(i).asLong();
        assertThat(info.shape()).isEqualTo(shape);
        float[] v = w.floats(e.getKey());
        for (int i = 0; i < c.get("first8_as_float32").size(); i++) {
          assertThat(v[i]).as(e.getKey() + "[" + i + "]").isEqualTo((float) c.get("first8_as_float32").get(i).asDouble());
        }
        double sum = 0;
        for (float f : v) sum += f;
        assertThat(sum).as(e.getKey()).isEqualTo(c.get("sum_as_float64").asDouble());
      }
    }
  }

  @Test
  void toNDArrayConvertsToTheComputeType() {
    try (WeightsIndex w = WeightsIndex.open(Goldens.dir("chatglm2-tiny-bf16"));
         NDManager m = NDManager.newBaseManager(Engines.cpu(), "PyTorch")) {
      String name = "transformer.encoder.layers.0.self_attention.query_key_value.weight";
      NDArray a = w.toNDArray(name, m, DataType.FLOAT32);
      assertThat(a.getShape().getShape()).containsExactly(64, 32);
      assertThat(a.getDataType()).isEqualTo(DataType.FLOAT32);
      assertThat(a.toFloatArray()).isEqualTo(w.floats(name));
      NDArray half = w.toNDArray(name, m, DataType.FLOAT16);
      assertThat(half.getDataType()).isEqualTo(DataType.FLOAT16);
      NDArray f32 = w.toNDArray("transformer.rotary_pos_emb.inv_freq", m, null);
      assertThat(f32.toFloatArray()).containsExactly(1.0f, 0.01f);
      assertThat(m.getManagedArrays()).hasSize(3);
    }
  }

  @Test
  void missingShardIsNamed(@TempDir Path tmp) throws IOException {
    Path dir = Goldens.dir("internlm2-tiny");
    Files.copy(dir.resolve("model.safetensors.index.json"), tmp.resolve("model.safetensors.index.json"));
    Files.createSymbolicLink(tmp.resolve("model-00001-of-00002.safetensors"), dir.resolve("model-00001-of-00002.safetensors").toAbsolutePath());
    assertThatThrownBy(() -> WeightsIndex.open(tmp))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("model-00002-of-00002.safetensors")
        .hasMessageContaining("missing")
        .hasMessageNotContaining(tmp.toString());
  }

  @Test
  void truncatedFilesAreNamed(@TempDir Path tmp) throws IOException {
    Path dir = Goldens.dir("chatglm2-tiny");
    Files.copy(dir.resolve("pytorch_model.bin.index.json"), tmp.resolve("pytorch_model.bin.index.json"));
    Files.copy(dir.resolve("pytorch_model-00001-of-00002.bin"), tmp.resolve("pytorch_model-00001-of-00002.bin"));
    Files.copy(dir.resolve("pytorch_model-00002-of-00002.bin"), tmp.resolve("pytorch_model-00002-of-00002.bin"));
    try (RandomAccessFile f = new RandomAccessFile(tmp.resolve("pytorch_model-00002-of-00002.bin").toFile(), "rw")) {
      f.setLength(f.length() / 2);
    }
    assertThatThrownBy(() -> WeightsIndex.open(tmp))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("pytorch_model-00002-of-00002.bin")
        .hasMessageContaining("truncated");

    Path st = tmp.resolve("st");
    Files.createDirectory(st);
    Files.copy(dir.resolve("model-00001-of-00002.safetensors"), st.resolve("model.safetensors"));
    try (RandomAccessFile f = new RandomAccessFile(st.resolve("model.safetensors").toFile(), "rw")) {
      f.setLength(f.length() - 100);
    }
    assertThatThrownBy(() -> WeightsIndex.open(st))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("model.safetensors is truncated");
  }

  @Test
  void emptyDirectoryIsRefused(@TempDir Path tmp) {
    assertThatThrownBy(() -> WeightsIndex.open(tmp))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("no weights");
  }
}
