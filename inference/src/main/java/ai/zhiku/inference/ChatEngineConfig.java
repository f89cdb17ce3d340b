package ai.zhiku.inference;

import ai.zhiku.common.ZhikuException;
import java.nio.file.Path;

/**
 * How to serve one chat model.
 *
 * @param modelPath a Hugging Face checkpoint directory
 * @param device cpu, cuda or cuda:N
 * @param dtype compute type: auto, float32, bfloat16 or float16
 * @param chatTemplate template name, or null for the model family's own
 * @param maxNumSeqs sequences decoded together (the batch bound and KV-cache slots)
 */
public record ChatEngineConfig(Path modelPath, String device, String dtype, String chatTemplate, int maxNumSeqs) {
  public ChatEngineConfig {
    if (modelPath == null) throw ZhikuException.invalid("model-path", "--model-path is required");
    if (device == null || device.isBlank()) device = "cpu";
    if (dtype == null || dtype.isBlank()) dtype = "auto";
    if (maxNumSeqs < 1 || maxNumSeqs > 256) {
      throw ZhikuException.invalid("max-num-seqs", "--max-num-seqs must be between 1 and 256, got " + maxNumSeqs);
    }
  }

  public static ChatEngineConfig cpu(Path modelPath) {
    return new ChatEngineConfig(modelPath, "cpu", "auto", null, 8);
  }
}
