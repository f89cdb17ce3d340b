package ai.zhiku.inference.bench;

import ai.zhiku.inference.kernel.Bf16;
import ai.zhiku.inference.model.ModelConfig;
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

  /** Writes a checkpoint of shape {@code c} (a family's config.json keys and tensor names). */
  public static void write(Path dir, ModelConfig c) throws IOException {
    Files.createDirectories(dir);
    int h = c.hiddenSize();
    int qkv = (c.numHeads() + 2 * c.numKvHeads()) * c.headDim();
    int attn = c.numHeads() * c.headDim();
    int ffn = c.ffnSize();
    int vocab = c.vocabSize();
    ObjectNode config = JSON.createObjectNode();
    List<Tensor> tensors = new ArrayList<>();
    switch (c.family()) {
      case "chatglm2" -> {
        config.putArray("architectures").add("ChatGLMModel");
        config.put("model_type", "chatglm").put("hidden_size", h).put("num_layers", c.numLayers())
            .put("num_attention_heads", c.numHeads()).put("kv_channels", c.headDim()).put("multi_query_attention", true)
            .put("multi_query_group_num", c.numKvHeads()).put("ffn_hidden_size", ffn).put("padded_vocab_size", vocab)
            .put("seq_length", c.contextLength()).put("layernorm_epsilon", c.normEps()).put("add_qkv_bias", c.qkvBias())
            .put("add_bias_linear", false).put("rmsnorm", true).put("original_rope", true).put("post_layer_norm", true)
            .put("apply_residual_connection_post_layernorm", false).put("eos_token_id", 2).put("torch_dtype", "bfloat16");
        tensors.add(new Tensor("transformer.embedding.word_embeddings.weight", new long[] {vocab, h}, false));
        for (int l = 0; l < c.numLayers(); l++) {
          String p = "transformer.encoder.layers." + l + ".";
          tensors.add(new Tensor(p + "input_layernorm.weight", new long[] {h}, true));
          tensors.add(new Tensor(p + "self_attention.query_key_value.weight", new long[] {qkv, h}, false));
          if (c.qkvBias()) tensors.add(new Tensor(p + "self_attention.query_key_value.bias", new long[] {qkv}, false));
          tensors.add(new Tensor(p + "self_attention.dense.weight", new long[] {h, attn}, false));
          tensors.add(new Tensor(p + "post_attention_layernorm.weight", new long[] {h}, true));
          tensors.add(new Tensor(p + "mlp.dense_h_to_4h.weight", new long[] {2L * ffn, h}, false));
          tensors.add(new Tensor(p + "mlp.dense_4h_to_h.weight", new long[] {h, ffn}, false));
        }
        tensors.add(new Tensor("transformer.encoder.final_layernorm.weight", new long[] {h}, true));
        tensors.add(new Tensor("transformer.output_layer.weight", new long[] {vocab, h}, false));
      }
      case "internlm2" -> {
        ModelConfig.Rope.RotateHalf rope = (ModelConfig.Rope.RotateHalf) c.rope();
        config.putArray("architectures").add("InternLM2ForCausalLM");
        config.put("model_type", "internlm2").put("hidden_size", h).put("num_hidden_layers", c.numLayers())
            .put("num_attention_heads", c.numHeads()).put("num_key_value_heads", c.numKvHeads()).put("intermediate_size", ffn)
            .put("vocab_size", vocab).put("max_position_embeddings", c.contextLength()).put("rms_norm_eps", c.normEps())
            .put("rope_theta", rope.base()).put("bias", c.qkvBias()).put("hidden_act", "silu").put("torch_dtype", "bfloat16");
        config.putNull("rope_scaling");
        tensors.add(new Tensor("model.tok_embeddings.weight", new long[] {vocab, h}, false));
        for (int l = 0; l < c.numLayers(); l++) {
          String p = "model.layers." + l + ".";
          tensors.add(new Tensor(p + "attention.wqkv.weight", new long[] {qkv, h}, false));
          if (c.qkvBias()) tensors.add(new Tensor(p + "attention.wqkv.bias", new long[] {qkv}, false));
          tensors.add(new Tensor(p + "attention.wo.weight", new long[] {h, attn}, false));
          tensors.add(new Tensor(p + "attention_norm.weight", new long[] {h}, true));
          tensors.add(new Tensor(p + "feed_forward.w1.weight", new long[] {ffn, h}, false));
          tensors.add(new Tensor(p + "feed_forward.w3.weight", new long[] {ffn, h}, false));
          tensors.add(new Tensor(p + "feed_forward.w2.weight", new long[] {h, ffn}, false));
          tensors.add(new Tensor(p + "ffn_norm.weight", new long[] {h}, true));
        }
        tensors.add(new Tensor("model.norm.weight", new long[] {h}, true));
        tensors.add(new Tensor("output.weight", new long[] {vocab, h}, false));
      }
      case "qwen2" -> {
        ModelConfig.Rope.RotateHalf rope = (ModelConfig.Rope.RotateHalf) c.rope();
        int kvDim = c.numKvHeads() * c.headDim();
        config.putArray("architectures").add("Qwen2ForCausalLM");
        config.put("model_type", "qwen2").put("hidden_size", h).put("num_hidden_layers", c.numLayers())
            .put("num_attention_heads", c.numHeads()).put("num_key_value_heads", c.numKvHeads()).put("intermediate_size", ffn)
            .put("vocab_size", vocab).put("max_position_embeddings", c.contextLength()).put("rms_norm_eps", c.normEps())
            .put("rope_theta", rope.base()).put("hidden_act", "silu").put("tie_word_embeddings", false)
            .put("use_sliding_window", false).put("torch_dtype", "bfloat16");
        tensors.add(new Tensor("model.embed_tokens.weight", new long[] {vocab, h}, false));
        for (int l = 0; l < c.numLayers(); l++) {
          String p = "model.layers." + l + ".";
          tensors.add(new Tensor(p + "input_layernorm.weight", new long[] {h}, true));
          tensors.add(new Tensor(p + "self_attn.q_proj.weight", new long[] {attn, h}, false));
          tensors.add(new Tensor(p + "self_attn.q_proj.bias", new long[] {attn}, false));
          tensors.add(new Tensor(p + "self_attn.k_proj.weight", new long[] {kvDim, h}, false));
          tensors.add(new Tensor(p + "self_attn.k_proj.bias", new long[] {kvDim}, false));
          tensors.add(new Tensor(p + "self_attn.v_proj.weight", new long[] {kvDim, h}, false));
          tensors.add(new Tensor(p + "self_attn.v_proj.bias", new long[] {kvDim}, false));
          tensors.add(new Tensor(p + "self_attn.o_proj.weight", new long[] {h, attn}, false));
          tensors.add(new Tensor(p + "post_attention_layernorm.weight", new long[] {h}, true));
          tensors.add(new Tensor(p + "mlp.gate_proj.weight", new long[] {ffn, h}, false));
          tensors.add(new Tensor(p + "mlp.up_proj.weight", new long[] {ffn, h}, false));
          tensors.add(new Tensor(p + "mlp.down_proj.weight", new long[] {h, ffn}, false));
        }
        tensors.add(new Tensor("model.norm.weight", new long[] {h}, true));
        tensors.add(new Tensor("lm_head.weight", new long[] {vocab, h}, false)); // the 7B layout; 1.5B ties it
      }
      default -> throw new IllegalArgumentException("no checkpoint layout for family " + c.family());
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
      RandomBf16 random = new RandomBf16(seed);
      short one = Bf16.fromFloat(1f);
      for (Tensor t : tensors) {
        for (long i = 0; i < t.numel(); i++) {
          buf.putShort(t.norm() ? one : random.next());
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
