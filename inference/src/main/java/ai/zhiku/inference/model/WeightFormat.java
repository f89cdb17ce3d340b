package ai.zhiku.inference.model;

/**
 * How a checkpoint's weights are held once loaded: the compute precision and, when the matrices
 * are quantized at load, how ({@code quantization} null: not quantized).
 */
public record WeightFormat(Precision precision, Quantization quantization) {
  public WeightFormat {
    if (quantization != null && precision != Precision.BFLOAT16) {
      throw new IllegalArgumentException("quantized weights compute beside bfloat16 embeddings, not " + precision.flag());
    }
  }

  public static WeightFormat of(Precision precision) { return new WeightFormat(precision, null); }

  /** The format for a precision and an optional quantization: quantized models keep bfloat16 for the rest. */
  public static WeightFormat of(Precision precision, Quantization quantization) {
    return new WeightFormat(quantization == null ? precision : Precision.BFLOAT16, quantization);
  }

  /** "bfloat16", or "int4 (group 128) with bfloat16 embeddings". */
  public String describe() {
    return quantization == null ? precision.flag()
        : quantization.flag() + " (group " + quantization.groupSize() + ") with bfloat16 embeddings";
  }
}
