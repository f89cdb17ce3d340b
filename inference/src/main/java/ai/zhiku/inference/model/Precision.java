package ai.zhiku.inference.model;

import ai.djl.ndarray.types.DataType;

/**
 * How a model's numbers are held. float32 and float16 keep every weight as a PyTorch tensor of
 * that type and compute in it. bfloat16 keeps the matrices (projections, embedding, output head)
 * in bfloat16 on the Java heap, half the bytes of float32, and computes with float32 activations
 * and accumulation (see {@link ai.zhiku.inference.model.layers.Bf16Matrix}); norms, biases and
 * the KV cache stay float32.
 */
public enum Precision {
  FLOAT32(DataType.FLOAT32),
  FLOAT16(DataType.FLOAT16),
  BFLOAT16(DataType.FLOAT32);

  private final DataType activations;

  Precision(DataType activations) {
    this.activations = activations;
  }

  /** The PyTorch type of activations, vectors and the KV cache. */
  public DataType activations() { return activations; }

  public String flag() { return name().toLowerCase(java.util.Locale.ROOT); }
}
