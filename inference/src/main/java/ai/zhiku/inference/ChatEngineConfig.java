package ai.zhiku.inference;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.inference.model.Quantization;
import java.nio.file.Path;

/**
 * How to serve one chat model.
 *
 * @param modelPath a Hugging Face checkpoint directory
 * @param device cpu, cuda or cuda:N
 * @param dtype compute type: auto, float32, bfloat16 or float16
 * @param chatTemplate template name, or null for the model family's own
 * @param maxNumSeqs sequences decoded together at most (a cap; memory is the KV cache's)
 * @param kvCacheMemory the paged KV cache's memory (see {@link KvCacheMemory}), null for the default
 * @param kvCacheDtype what the cache stores: auto (the compute precision: bfloat16 where the
 *     attention runs on the native kernel, else the activation type), float32, float16 or bfloat16
 * @param prefixCaching share full KV blocks between sequences with the same prefix (on unless
 *     {@code --no-prefix-caching}, which is for measuring what it saves)
 * @param quantization weights quantized at load ({@code --quantize}), null for none
 */
public record ChatEngineConfig(Path modelPath, String device, String dtype, String chatTemplate, int maxNumSeqs,
                               String kvCacheMemory, String kvCacheDtype, boolean prefixCaching, Quantization quantization) {
  /** Sequences decoded together unless configured. */
  public static final int DEFAULT_MAX_NUM_SEQS = 64;

  public ChatEngineConfig {
    if (modelPath == null) throw ZhikuException.invalid("model-path", "--model-path is required");
    if (device == null || device.isBlank()) device = "cpu";
    if (dtype == null || dtype.isBlank()) dtype = "auto";
    if (maxNumSeqs < 1 || maxNumSeqs > 1024) {
      throw ZhikuException.invalid("max-num-seqs", "--max-num-seqs must be between 1 and 1024, got " + maxNumSeqs);
    }
    if (kvCacheMemory != null && kvCacheMemory.isBlank()) kvCacheMemory = null;
    if (kvCacheDtype == null || kvCacheDtype.isBlank()) kvCacheDtype = "auto";
    KvCacheMemory.validate(kvCacheMemory);
  }

  /** With the default KV cache memory and type. */
  public ChatEngineConfig(Path modelPath, String device, String dtype, String chatTemplate, int maxNumSeqs) {
    this(modelPath, device, dtype, chatTemplate, maxNumSeqs, null, null);
  }

  /** With the default KV cache type. */
  public ChatEngineConfig(Path modelPath, String device, String dtype, String chatTemplate, int maxNumSeqs, String kvCacheMemory) {
    this(modelPath, device, dtype, chatTemplate, maxNumSeqs, kvCacheMemory, null);
  }

  /** Not quantized. */
  public ChatEngineConfig(Path modelPath, String device, String dtype, String chatTemplate, int maxNumSeqs, String kvCacheMemory,
                          String kvCacheDtype, boolean prefixCaching) {
    this(modelPath, device, dtype, chatTemplate, maxNumSeqs, kvCacheMemory, kvCacheDtype, prefixCaching, null);
  }

  /** With prefix caching on. */
  public ChatEngineConfig(Path modelPath, String device, String dtype, String chatTemplate, int maxNumSeqs, String kvCacheMemory,
                          String kvCacheDtype) {
    this(modelPath, device, dtype, chatTemplate, maxNumSeqs, kvCacheMemory, kvCacheDtype, true);
  }

  public static ChatEngineConfig cpu(Path modelPath) {
    return new ChatEngineConfig(modelPath, "cpu", "auto", null, DEFAULT_MAX_NUM_SEQS);
  }
}
