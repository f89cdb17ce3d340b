package ai.zhiku.inference.model.chatglm2;

import ai.djl.ndarray.NDManager;
import ai.zhiku.inference.model.WeightFormat;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.DecoderModel;
import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.tokenizer.ChatGlm2Tokenizer;
import ai.zhiku.inference.tokenizer.ChatTemplate;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;

/** ChatGLM2 (architecture {@code ChatGLMModel}): config, weights, tokenizer, template and stop ids. */
public final class ChatGlm2Model {
  public static final String ARCHITECTURE = "ChatGLMModel";

  private ChatGlm2Model() {}

  /** The decoder alone (config.json and weights), as the engine benchmark loads it. */
  public static DecoderModel decoder(Path dir, ObjectMapper json, NDManager manager, WeightFormat format) throws IOException {
    return decoder(dir, json.readValue(dir.resolve("config.json").toFile(), ChatGlm2Config.class), manager, format);
  }

  private static DecoderModel decoder(Path dir, ChatGlm2Config c, NDManager manager, WeightFormat format) {
    return DecoderModel.load(dir, c.toModelConfig(), manager, format, ChatGlm2Weights::load);
  }

  public static ChatModel load(Path dir, ObjectMapper json, NDManager manager, WeightFormat format) throws IOException {
    ChatGlm2Config c = json.readValue(dir.resolve("config.json").toFile(), ChatGlm2Config.class);
    DecoderModel model = decoder(dir, c, manager, format);
    ModelConfig cfg = model.config();
    int eos = c.eosTokenId() == null ? 2 : c.eosTokenId();
    return new ChatModel("chatglm2", model, ChatGlm2Tokenizer.load(dir, cfg.vocabSize()),
        ChatTemplate.named("chatglm2"), new int[] {eos});
  }
}
