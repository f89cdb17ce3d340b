package ai.zhiku.inference;

import ai.djl.Device;
import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.engine.LocalChatEngine;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.ModelFamilies;
import ai.zhiku.inference.model.Precision;
import ai.zhiku.inference.model.WeightFormat;
import ai.zhiku.inference.tokenizer.ChatTemplate;
import java.nio.file.Path;

/** Entry point of the chat engine for the worker and the CLI. */
public final class ChatEngineFactory {
  private ChatEngineFactory() {}

  /** Whether {@code dir}'s config.json names a chat architecture this engine serves. */
  public static boolean isChatModel(Path dir) {
    return ModelFamilies.isChatModel(dir);
  }

  /** Loads the model and starts its engine thread, with the configured KV cache memory (resolved after the weights are in). */
  public static ChatEngine open(ChatEngineConfig config) {
    return open(config, -1);
  }

  /**
   * Loads the model and starts its engine thread over a paged KV cache of {@code kvCacheBytes}
   * (or the configured memory when negative). The served context is the model's, unless the cache
   * holds fewer tokens.
   */
  public static ChatEngine open(ChatEngineConfig config, long kvCacheBytes) {
    Device device = Engines.device(config.device());
    Precision precision = ModelFamilies.precision(config.dtype(), device);
    ChatModel model = ModelFamilies.load(config.modelPath(), device, WeightFormat.of(precision, config.quantization()));
    try {
      if (kvCacheBytes < 0) kvCacheBytes = KvCacheMemory.resolve(config.kvCacheMemory(), device);
      ChatTemplate template = config.chatTemplate() == null ? model.template() : ChatTemplate.named(config.chatTemplate());
      return new LocalChatEngine(model, template, config.maxNumSeqs(), kvCacheBytes, config.kvCacheDtype(), config.prefixCaching());
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }
}
