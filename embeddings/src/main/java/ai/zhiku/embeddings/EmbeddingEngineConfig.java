package ai.zhiku.embeddings;

import java.nio.file.Path;

/**
 * How to open one embedding model.
 *
 * @param modelPath a model directory (ONNX export or Hugging Face BERT checkpoint); null means the
 *     bundled default, bge-small-zh-v1.5
 * @param device "cpu" (also when null or blank), "cuda", "cuda:N" or "gpu"
 * @param maxBatchSize most inputs in one forward pass, at least 1
 * @param maxBatchWaitMicros how long the first queued input waits for others to join its batch;
 *     0 means never wait. The engine never waits while no other request is pending.
 * @param queryInstruction prefix for query inputs; null means the model's default ("" means none)
 */
public record EmbeddingEngineConfig(
    Path modelPath, String device, int maxBatchSize, long maxBatchWaitMicros, String queryInstruction) {

  public static final int DEFAULT_MAX_BATCH_SIZE = 32;
  public static final long DEFAULT_MAX_BATCH_WAIT_MICROS = 2000;

  public EmbeddingEngineConfig {
    if (maxBatchSize < 1) {
      throw new IllegalArgumentException("maxBatchSize must be at least 1, got " + maxBatchSize);
    }
    if (maxBatchWaitMicros < 0) {
      throw new IllegalArgumentException("maxBatchWaitMicros must not be negative, got " + maxBatchWaitMicros);
    }
    device = device == null || device.isBlank() ? "cpu" : device.trim();
  }

  /** The bundled bge-small-zh-v1.5 on CPU with default batching. */
  public static EmbeddingEngineConfig defaults() {
    return new EmbeddingEngineConfig(null, "cpu", DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_BATCH_WAIT_MICROS, null);
  }

  public EmbeddingEngineConfig withModelPath(Path path) {
    return new EmbeddingEngineConfig(path, device, maxBatchSize, maxBatchWaitMicros, queryInstruction);
  }
}
