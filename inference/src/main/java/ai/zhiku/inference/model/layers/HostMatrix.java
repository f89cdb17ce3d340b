package ai.zhiku.inference.model.layers;

/**
 * A weight held on the Java heap and multiplied by our own kernels on Java arrays, so that a step
 * can run its layers between products without copying activations in and out of tensors.
 */
public sealed interface HostMatrix extends Matrix permits Bf16Matrix, QuantizedMatrix {
  /** {@code y[n, rows] = x[n, cols] · wᵀ}. */
  void multiply(float[] x, int n, float[] y);

  /** Bytes one product reads from the weight. */
  long bytes();
}
