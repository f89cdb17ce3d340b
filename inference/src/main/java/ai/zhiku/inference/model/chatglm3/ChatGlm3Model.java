package ai.zhiku.inference.model.chatglm3;

import ai.djl.ndarray.NDManager;
import ai.zhiku.inference.model.WeightFormat;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.DecoderModel;
import ai.zhiku.inference.model.chatglm2.ChatGlm2Config;
import ai.zhiku.inference.model.chatglm2.ChatGlm2Weights;
import ai.zhiku.inference.tokenizer.ChatGlm3Template;
import ai.zhiku.inference.tokenizer.ChatGlm3Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * ChatGLM3 (architecture {@code ChatGLMModel}, as ChatGLM2): ChatGLM2's decoder and weights, with
 * ChatGLM3's tokenizer (role tokens after the SentencePiece pieces), its id-built chat prompt and
 * its stop ids {@code </s>}, {@code <|user|>}, {@code <|observation|>} (what the official
 * {@code chat()} passes to generate).
 */
public final class ChatGlm3Model {
  private ChatGlm3Model() {}

  /**
   * Whether a {@code ChatGLMModel} checkpoint carries ChatGLM3's tokenizer, told by its files: the
   * shipped {@code tokenization_chatglm.py} defines the role tokens; without it, the
   * tokenizer_config.json (its chat_template or added tokens naming {@code <|observation|>}, or
   * the hub id the files were saved from) or config.json's {@code _name_or_path}.
   */
  public static boolean isChatGlm3(Path dir, ObjectMapper json) {
    try {
      Path code = dir.resolve("tokenization_chatglm.py");
      if (Files.isRegularFile(code)) return Files.readString(code).contains("<|observation|>");
      Path tc = dir.resolve("tokenizer_config.json");
      if (Files.isRegularFile(tc)) {
        String text = Files.readString(tc);
        if (text.contains("<|observation|>")) return true;
        JsonNode n = json.readTree(text);
        if (n.path("name_or_path").asText("").toLowerCase().contains("chatglm3")) return true;
      }
      Path cfg = dir.resolve("config.json");
      return Files.isRegularFile(cfg)
          && json.readTree(cfg.toFile()).path("_name_or_path").asText("").toLowerCase().contains("chatglm3");
    } catch (IOException e) {
      return false;
    }
  }

  public static ChatModel load(Path dir, ObjectMapper json, NDManager manager, WeightFormat format) throws IOException {
    ChatGlm2Config c = json.readValue(dir.resolve("config.json").toFile(), ChatGlm2Config.class);
    DecoderModel model = DecoderModel.load(dir, c.toModelConfig(), manager, format, ChatGlm2Weights::load);
    ChatGlm3Tokenizer tok = ChatGlm3Tokenizer.load(dir, model.config().vocabSize());
    int eos = c.eosTokenId() == null ? 2 : c.eosTokenId();
    return new ChatModel("chatglm3", model, tok, new ChatGlm3Template(),
        new int[] {eos, tok.roleId("user"), tok.roleId("observation")});
  }
}
