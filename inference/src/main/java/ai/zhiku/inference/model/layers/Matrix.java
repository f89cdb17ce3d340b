package ai.zhiku.inference.model.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/** A weight matrix [rows, cols] as a linear layer and an embedding table use it. */
public sealed interface Matrix permits TorchMatrix, HostMatrix {
  long rows();

  long cols();

  /** {@code x · wᵀ (+ bias)} for activations x [n, cols]; the result lives in x's manager. */
  NDArray multiply(NDArray x, NDArray bias);

  /** Rows {@code ids} as an array [ids.length, cols] in the activation type, owned by {@code step}. */
  NDArray rows(NDManager step, long[] ids);
}
