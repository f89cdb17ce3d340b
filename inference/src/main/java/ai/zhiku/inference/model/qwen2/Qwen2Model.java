package ai.zhiku.inference.model.qwen2;

import ai.djl.ndarray.NDManager;
import ai.zhiku.inference.model.WeightFormat;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.DecoderModel;
import ai.zhiku.inference.tokenizer.ChatTemplate;
import ai.zhiku.inference.tokenizer.JinjaTemplate;
import ai.zhiku.inference.tokenizer.Qwen2Tokenizer;
import ai.zhiku.inference.tools.QwenToolParser;
import ai.zhiku.inference.weights.CheckpointException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Qwen2 / Qwen2.5 (architecture {@code Qwen2ForCausalLM}): the shared decoder with q/k/v biases,
 * grouped-query attention and rope_theta from config.json, the byte-level BPE tokenizer, the
 * checkpoint's own chat_template and generation_config.json's eos ids as stop ids.
 */
public final class Qwen2Model {
  public static final String ARCHITECTURE = "Qwen2ForCausalLM";
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Qwen2Model.class);

  private Qwen2Model() {}

  public static DecoderModel decoder(Path dir, ObjectMapper json, NDManager manager, WeightFormat format) throws IOException {
    Qwen2Config c = json.readValue(dir.resolve("config.json").toFile(), Qwen2Config.class);
    if (Boolean.TRUE.equals(c.useSlidingWindow())) {
      log.info("use_sliding_window is set but its window ({} tokens) spans the whole context: ignored", c.slidingWindow());
    }
    return DecoderModel.load(dir, c.toModelConfig(), manager, format, (w, cfg) -> Qwen2Weights.load(w, cfg, c.tied()));
  }

  public static ChatModel load(Path dir, ObjectMapper json, NDManager manager, WeightFormat format) throws IOException {
    Qwen2Config c = json.readValue(dir.resolve("config.json").toFile(), Qwen2Config.class);
    DecoderModel model = decoder(dir, json, manager, format);
    try {
      Qwen2Tokenizer tok = Qwen2Tokenizer.load(dir, model.config().vocabSize());
      String source = JinjaTemplate.source(dir);
      if (source == null) throw new CheckpointException("tokenizer_config.json has no chat_template");
      Map<String, Object> vars = new java.util.HashMap<>();
      JsonNode tc = json.readTree(dir.resolve("tokenizer_config.json").toFile());
      for (String k : new String[] {"bos_token", "eos_token", "pad_token", "unk_token"}) {
        JsonNode v = tc.path(k);
        if (v.isTextual()) vars.put(k, v.asText());
        else if (v.isObject() && v.path("content").isTextual()) vars.put(k, v.path("content").asText());
      }
      ChatTemplate template = new JinjaTemplate("qwen2", source, vars, new QwenToolParser());
      return new ChatModel("qwen2", model, tok, template, stopIds(dir, json, c, tok));
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /** generation_config.json's eos_token_id (one id or a list), else config.json's, else {@code <|im_end|>}. */
  static int[] stopIds(Path dir, ObjectMapper json, Qwen2Config c, Qwen2Tokenizer tok) throws IOException {
    Path gen = dir.resolve("generation_config.json");
    if (Files.isRegularFile(gen)) {
      JsonNode eos = json.readTree(gen.toFile()).path("eos_token_id");
      if (eos.isArray() && !eos.isEmpty()) {
        int[] ids = new int[eos.size()];
        for (int i = 0; i < ids.length; i++) ids[i] = eos.get(i).asInt();
        return ids;
      }
      if (eos.isInt()) return new int[] {eos.asInt()};
    }
    if (c.eosTokenId() != null) return new int[] {c.eosTokenId()};
    Integer imEnd = tok.addedId("<|im_end|>");
    if (imEnd == null) throw new CheckpointException("no eos_token_id in generation_config.json or config.json");
    return new int[] {imEnd};
  }
}
