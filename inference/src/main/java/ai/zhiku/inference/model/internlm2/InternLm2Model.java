package ai.zhiku.inference.model.internlm2;

import ai.djl.ndarray.NDManager;
import ai.zhiku.inference.model.WeightFormat;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.DecoderModel;
import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.tokenizer.ChatTemplate;
import ai.zhiku.inference.tokenizer.InternLm2Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * InternLM2 (architecture {@code InternLM2ForCausalLM}). Replies end at {@code </s>} or
 * {@code <|im_end|>}: generation_config.json's eos_token_id, or that pair when the file is
 * absent (what the official {@code chat()} passes).
 */
public final class InternLm2Model {
  public static final String ARCHITECTURE = "InternLM2ForCausalLM";

  private InternLm2Model() {}

  /** The decoder alone (config.json and weights), as the engine benchmark loads it. */
  public static DecoderModel decoder(Path dir, ObjectMapper json, NDManager manager, WeightFormat format) throws IOException {
    InternLm2Config c = json.readValue(dir.resolve("config.json").toFile(), InternLm2Config.class);
    return DecoderModel.load(dir, c.toModelConfig(), manager, format, InternLm2Weights::load);
  }

  public static ChatModel load(Path dir, ObjectMapper json, NDManager manager, WeightFormat format) throws IOException {
    DecoderModel model = decoder(dir, json, manager, format);
    ModelConfig cfg = model.config();
    InternLm2Tokenizer tok = InternLm2Tokenizer.load(dir, cfg.vocabSize());
    int[] stops = {2, tok.specialId("<|im_end|>") == null ? 92542 : tok.specialId("<|im_end|>")};
    Path gen = dir.resolve("generation_config.json");
    if (Files.isRegularFile(gen)) {
      JsonNode eos = json.readTree(gen.toFile()).path("eos_token_id");
      if (eos.isArray() && !eos.isEmpty()) {
        stops = new int[eos.size()];
        for (int i = 0; i < stops.length; i++) stops[i] = eos.get(i).asInt();
      } else if (eos.isInt()) {
        stops = new int[] {eos.asInt(), stops[1]};
      }
    }
    return new ChatModel("internlm2", model, tok, ChatTemplate.named("internlm2"), stops);
  }
}
