package ai.zhiku.inference.model;

import ai.zhiku.inference.weights.quantized.StoredQuantization;

/**
 * How a checkpoint's weights are held once loaded: the compute precision and, when the matrices
 * are quantized at load, how ({@code quantization} null: not quantized); {@code stored} (null:
 * none) is the quantization the checkpoint was published in (GPTQ, AWQ, ChatGLM int4), kept as is.
 */
public record WeightFormat(Precision precision, Quantization quantization, StoredQuantization stored) {
  public WeightFormat {
    if ((quantization != null || stored != null) && precision != Precision.BFLOAT16) {
      throw new IllegalArgumentException("quantized weights compute beside bfloat16 embeddings, not " + precision.flag());
    }
    if (quantization != null && stored != null) throw new IllegalArgumentException("a quantized checkpoint is not quantized again");
  }

  public static WeightFormat of(Precision precision) { return new WeightFormat(precision, null, null); }

  /** The format for a precision and an optional quantization: quantized models keep bfloat16 for the rest. */
  public static WeightFormat of(Precision precision, Quantization quantization) {
    return new WeightFormat(quantization == null ? precision : Precision.BFLOAT16, quantization, null);
  }

  /** The format of a checkpoint published quantized: its matrices as stored, the rest in bfloat16. */
  public static WeightFormat stored(StoredQuantization stored) {
    return new WeightFormat(Precision.BFLOAT16, null, stored);
  }

  /** "bfloat16", "int4 (group 128) with bfloat16 embeddings" or "gptq int4 (group 128) as stored, ...". */
  public String describe() {
    if (stored != null) return stored.describe() + " as stored, with bfloat16 embeddings";
    return quantization == null ? precision.flag()
        : quantization.flag() + " (group " + quantization.groupSize() + ") with bfloat16 embeddings";
  }
}
