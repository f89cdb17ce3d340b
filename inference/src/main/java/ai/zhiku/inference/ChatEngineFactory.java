package ai.zhiku.inference;

import ai.djl.Device;
import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.engine.LocalChatEngine;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.ModelFamilies;
import ai.zhiku.inference.model.Precision;
import ai.zhiku.inference.tokenizer.ChatTemplate;
import java.nio.file.Path;

/** Entry point of the chat engine for the worker and the CLI. */
public final class ChatEngineFactory {
  /** Default native memory for the KV cache, shared by all slots. */
  public static final long DEFAULT_KV_CACHE_BYTES = 4L << 30;

  private ChatEngineFactory() {}

  /** Whether {@code dir}'s config.json names a chat architecture this engine serves. */
  public static boolean isChatModel(Path dir) {
    return ModelFamilies.isChatModel(dir);
  }

  public static ChatEngine open(ChatEngineConfig config) {
    return open(config, DEFAULT_KV_CACHE_BYTES);
  }

  /**
   * Loads the model and starts its engine thread. The served context is the model's, capped so
   * that {@code maxNumSeqs} full-length sequences fit in {@code kvCacheBytes}.
   */
  public static ChatEngine open(ChatEngineConfig config, long kvCacheBytes) {
    Device device = Engines.device(config.device());
    Precision precision = ModelFamilies.precision(config.dtype(), device);
    ChatModel model = ModelFamilies.load(config.modelPath(), device, precision);
    try {
      ChatTemplate template = config.chatTemplate() == null ? model.template() : ChatTemplate.named(config.chatTemplate());
      return new LocalChatEngine(model, template, config.maxNumSeqs(), kvCacheBytes);
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }
}
