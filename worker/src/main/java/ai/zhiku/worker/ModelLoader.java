package ai.zhiku.worker;

import ai.zhiku.common.StartupException;
import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.embeddings.EmbeddingEngineConfig;
import ai.zhiku.embeddings.EmbeddingEngineFactory;
import ai.zhiku.inference.ModelDirectories;
import ai.zhiku.inference.model.ModelFamilies;
import ai.zhiku.inference.weights.CheckpointException;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens the model a worker hosts, deciding from the directory (config.json, model.onnx) what it is.
 * A directory that cannot be served fails with one sentence naming it and what to do.
 */
public final class ModelLoader {
  private static final Logger log = LoggerFactory.getLogger(ModelLoader.class);

  private ModelLoader() {}

  public static HostedModel load(WorkerConfig config) {
    long start = System.nanoTime();
    Path dir = config.modelPath();
    if (dir != null) {
      ModelDirectories.requireModelDirectory(dir);
    }
    HostedModel model;
    try {
      model = open(config, dir);
    } catch (CheckpointException e) {
      throw new StartupException(dir + ": " + e.getMessage(), e);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    io.micrometer.core.instrument.Gauge.builder("zhiku.worker.model.load", () -> seconds).baseUnit("seconds")
        .tag("model", model.names().getFirst()).description("Time to load the model").register(ai.zhiku.common.Metrics.registry());
    log.info("loaded {} as {} in {} s", dir == null ? "the bundled default embedding model" : dir.getFileName(), model.names(),
        String.format("%.1f", seconds));
    return model;
  }

  private static HostedModel open(WorkerConfig config, Path dir) {
    if (dir == null || EmbeddingEngineFactory.isEmbeddingModel(dir)) {
      EmbeddingEngineConfig ec = new EmbeddingEngineConfig(dir, config.device(), config.embeddingMaxBatch(),
          config.embeddingMaxWaitMicros(), null);
      List<String> names = config.resolvedNames(EmbeddingEngineFactory.DEFAULT_MODEL_NAME);
      return new HostedModel.Embedding(names, EmbeddingEngineFactory.open(ec));
    }
    if (ai.zhiku.inference.ChatEngineFactory.isChatModel(dir)) {
      return new HostedModel.Chat(config.resolvedNames("chat"), openChat(config));
    }
    throw ModelDirectories.unsupported(dir, "chat architectures: " + String.join(", ", ModelFamilies.architectures())
        + "; embedding models: the BERT family (model_type bert, roberta, xlm-roberta, ernie, ...) or an ONNX export with tokenizer.json");
  }

  private static ChatEngine openChat(WorkerConfig config) {
    return ai.zhiku.inference.ChatEngineFactory.open(new ai.zhiku.inference.ChatEngineConfig(
        config.modelPath(), config.device(), config.dtype(), config.chatTemplate(), config.maxNumSeqs(),
        config.kvCacheMemory(), config.kvCacheDtype(), config.prefixCaching(), config.quantization()));
  }
}
