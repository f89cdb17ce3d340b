package ai.zhiku.worker;

import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.embeddings.EmbeddingEngineConfig;
import ai.zhiku.embeddings.EmbeddingEngineFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Opens the model a worker hosts, deciding from the directory (config.json, model.onnx) what it is. */
public final class ModelLoader {
  private static final Logger log = LoggerFactory.getLogger(ModelLoader.class);

  private ModelLoader() {}

  public static HostedModel load(WorkerConfig config) {
    long start = System.nanoTime();
    Path dir = config.modelPath();
    HostedModel model;
    if (dir != null && !Files.isDirectory(dir)) {
      throw new IllegalArgumentException("--model-path " + dir + " is not a directory");
    }
    if (dir == null || EmbeddingEngineFactory.isEmbeddingModel(dir)) {
      EmbeddingEngineConfig ec = new EmbeddingEngineConfig(dir, config.device(), config.embeddingMaxBatch(),
          config.embeddingMaxWaitMicros(), null);
      List<String> names = config.resolvedNames(EmbeddingEngineFactory.DEFAULT_MODEL_NAME);
      model = new HostedModel.Embedding(names, EmbeddingEngineFactory.open(ec));
    } else if (ai.zhiku.inference.ChatEngineFactory.isChatModel(dir)) {
      model = new HostedModel.Chat(config.resolvedNames("chat"), openChat(config));
    } else {
      throw new IllegalArgumentException("--model-path " + dir.getFileName() + ": not a model this worker can serve (expected config.json of "
          + "ChatGLM2, InternLM2 or a BERT-family embedding model, or an ONNX export with model.onnx)");
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    io.micrometer.core.instrument.Gauge.builder("zhiku.worker.model.load", () -> seconds).baseUnit("seconds")
        .tag("model", model.names().getFirst()).description("Time to load the model").register(ai.zhiku.common.Metrics.registry());
    log.info("loaded {} as {} in {} s", dir == null ? "the bundled default embedding model" : dir.getFileName(), model.names(),
        String.format("%.1f", seconds));
    return model;
  }

  private static ChatEngine openChat(WorkerConfig config) {
    return ai.zhiku.inference.ChatEngineFactory.open(new ai.zhiku.inference.ChatEngineConfig(
        config.modelPath(), config.device(), config.dtype(), config.chatTemplate(), config.maxNumSeqs(),
        config.kvCacheMemory()));
  }
}
