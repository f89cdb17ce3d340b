package ai.zhiku.inference.bench;

import ai.zhiku.inference.kernel.Bf16;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a random-weight checkpoint with a real model's shape, tensor names and config.json, in
 * bfloat16 safetensors shards of about 2 GB with their index, as a Hugging Face download looks.
 * For measuring load time and memory of big models on machines that have no real weights; the
 * directory has no tokenizer, so it loads as a decoder only ({@code bench engine --model-path}).
 */
public final class CheckpointWriter {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long SHARD_BYTES = 2L << 30;

  private record Tensor(String name, long[] shape, boolean norm) {
    long numel() {
      long n = 1;
      for (long d : shape) n *= d;
      return n;
    }
  }

  private CheckpointWriter() {}

  public static void write(Path dir, String shape) throws IOException {
    Files.createDirectories(dir);
    ObjectNode config = JSON.createObjectNode();
    List<Tensor> tensors = new ArrayList<>();
    switch (shape) {
      case "chatglm2-6b" -> {
        int h = 4096;
        int layers = 28;
        int qkv = (32 + 2 * 2) * 128;
        int ffn = 13696;
        int vocab = 65024;
        config.putArray("architectures").add("ChatGLMModel");
        config.put("model_type", "chatglm").put("hidden_size", h).put("num_layers", layers)
            .put("num_attention_heads", 32).put("kv_channels", 128).put("multi_query_attention", true)
            .put("multi_query_group_num", 2).put("ffn_hidden_size", ffn).put("padded_vocab_size", vocab)
            .put("seq_length", 32768).put("layernorm_epsilon", 1e-5).put("add_qkv_bias", true)
            .put("add_bias_linear", false).put("rmsnorm", true).put("original_rope", true).put("post_layer_norm", true)
            .put("apply_residual_connection_post_layernorm", false).put("eos_token_id", 2).put("torch_dtype", "bfloat16");
        tensors.add(new Tensor("transformer.embedding.word_embeddings.weight", new long[] {vocab, h}, false));
        for (int l = 0; l < layers; l++) {
          String p = "transformer.encoder.layers." + l + ".";
          tensors.add(new Tensor(p + "input_layernorm.weight", new long[] {h}, true));
          tensors.add(new Tensor(p + "self_attention.query_key_value.weight", new long[] {qkv, h}, false));
          tensors.add(new Tensor(p + "self_attention.query_key_value.bias", new long[] {qkv}, false));
          tensors.add(new Tensor(p + "self_attention.dense.weight", new long[] {h, h}, false));
          tensors.add(new Tensor(p + "post_attention_layernorm.weight", new long[] {h}, true));
          tensors.add(new Tensor(p + "mlp.dense_h_to_4h.weight", new long[] {2L * ffn, h}, false));
          tensors.add(new Tensor(p + "mlp.dense_4h_to_h.weight", new long[] {h, ffn}, false));
        }
        tensors.add(new Tensor("transformer.encoder.final_layernorm.weight", new long[] {h}, true));
        tensors.add(new Tensor("transformer.output_layer.weight", new long[] {vocab, h}, false));
      }
      case "internlm2-1.8b" -> {
        int h = 2048;
        int layers = 24;
        int qkv = (16 + 2 * 8) * 128;
        int ffn = 8192;
        int vocab = 92544;
        config.putArray("architectures").add("InternLM2ForCausalLM");
        config.put("model_type", "internlm2").put("hidden_size", h).put("num_hidden_layers", layers)
            .put("num_attention_heads", 16).put("num_key_value_heads", 8).put("intermediate_size", ffn)
            .put("vocab_size", vocab).put("max_position_embeddings", 32768).put("rms_norm_eps", 1e-5)
            .put("rope_theta", 1000000).put("bias", false).put("hidden_act", "silu").put("torch_dtype", "bfloat16");
        config.putNull("rope_scaling");
        tensors.add(new Tensor("model.tok_embeddings.weight", new long[] {vocab, h}, false));
        for (int l = 0; l < layers; l++) {
          String p = "model.layers." + l + ".";
          tensors.add(new Tensor(p + "attention.wqkv.weight", new long[] {qkv, h}, false));
          tensors.add(new Tensor(p + "attention.wo.weight", new long[] {h, h}, false));
          tensors.add(new Tensor(p + "attention_norm.weight", new long[] {h}, true));
          tensors.add(new Tensor(p + "feed_forward.w1.weight", new long[] {ffn, h}, false));
          tensors.add(new Tensor(p + "feed_forward.w3.weight", new long[] {ffn, h}, false));
          tensors.add(new Tensor(p + "feed_forward.w2.weight", new long[] {h, ffn}, false));
          tensors.add(new Tensor(p + "ffn_norm.weight", new long[] {h}, true));
        }
        tensors.add(new Tensor("model.norm.weight", new long[] {h}, true));
        tensors.add(new Tensor("output.weight", new long[] {vocab, h}, false));
      }
      default -> throw new IllegalArgumentException("unknown shape " + shape + " (internlm2-1.8b, chatglm2-6b)");
    }
    JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), config);

    List<List<Tensor>> shards = new ArrayList<>();
    long size = SHARD_BYTES;
    for (Tensor t : tensors) {
      if (size + 2 * t.numel() > SHARD_BYTES) {
        shards.add(new ArrayList<>());
        size = 0;
      }
      shards.get(shards.size() - 1).add(t);
      size += 2 * t.numel();
    }
    Map<String, String> weightMap = new LinkedHashMap<>();
    long total = 0;
    for (int s = 0; s < shards.size(); s++) {
      String file = String.format("model-%05d-of-%05d.safetensors", s + 1, shards.size());
      total += writeShard(dir.resolve(file), shards.get(s), s);
      for (Tensor t : shards.get(s)) weightMap.put(t.name(), file);
    }
    ObjectNode index = JSON.createObjectNode();
    index.putObject("metadata").put("total_size", total);
    ObjectNode map = index.putObject("weight_map");
    weightMap.forEach(map::put);
    JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("model.safetensors.index.json").toFile(), index);
  }

  private static long writeShard(Path file, List<Tensor> tensors, int seed) throws IOException {
    ObjectNode header = JSON.createObjectNode();
    header.putObject("__metadata__").put("format", "pt");
    long offset = 0;
    for (Tensor t : tensors) {
      ObjectNode e = header.putObject(t.name());
      e.put("dtype", "BF16");
      var shape = e.putArray("shape");
      for (long d : t.shape()) shape.add(d);
      e.putArray("data_offsets").add(offset).add(offset + 2 * t.numel());
      offset += 2 * t.numel();
    }
    StringBuilder h = new StringBuilder(JSON.writeValueAsString(header));
    while (h.length() % 8 != 0) h.append(' ');
    byte[] hb = h.toString().getBytes(StandardCharsets.UTF_8);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length).flip();
      ch.write(len);
      ch.write(ByteBuffer.wrap(hb));
      ByteBuffer buf = ByteBuffer.allocateDirect(8 << 20).order(ByteOrder.LITTLE_ENDIAN);
      long state = 0x9E3779B97F4A7C15L * (seed + 1);
      for (Tensor t : tensors) {
        for (long i = 0; i < t.numel(); i++) {
          float v;
          if (t.norm()) {
            v = 1f;
          } else {
            state = state * 6364136223846793005L + 1442695040888963407L;
            v = ((state >>> 40) / (float) (1 << 24) - 0.5f) * 0.1f; // uniform in [-0.05, 0.05)
          }
          buf.putShort(Bf16.fromFloat(v));
          if (!buf.hasRemaining()) {
            ch.write(buf.flip());
            buf.clear();
          }
        }
      }
      ch.write(buf.flip());
    }
    return offset;
  }
}
