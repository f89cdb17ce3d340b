package ai.zhiku.inference.model.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;

/** The building blocks both families share. Activations come first in every op, so results stay in the step's manager. */
public final class Layers {
  private Layers() {}

  /**
   * From this many rows on, a float16 product on the CPU is computed in float32. PyTorch's CPU float16
   * GEMM is slow on this hardware (no AVX512-FP16) while its float16 GEMV is the fastest path: measured
   * for a [16384, 2048] weight, 256 rows took 376 ms in float16 and 165 ms widened (129 ms for float32
   * weights); widening costs about 35 ms per such matrix, so it pays from about 40 rows. Decode steps
   * (one row per sequence) stay in float16.
   */
  static final long WIDEN_ROWS = 48;

  /** x @ w^T (+ b); w: [out, in]. */
  public static NDArray linear(NDArray x, NDArray w, NDArray b) {
    if (x.getDataType() == DataType.FLOAT16 && x.getDevice().getDeviceType().equals(ai.djl.Device.Type.CPU)
        && x.getShape().dimension() == 2 && x.getShape().get(0) >= WIDEN_ROWS) {
      // the float32 copies are freed at once, so a step never holds more than one widened weight
      try (NDArray x32 = x.toType(DataType.FLOAT32, false);
           NDArray w32 = widened(x, w);
           NDArray b32 = b == null ? null : widened(x, b);
           NDArray out = (b32 == null ? Linear.linear(x32, w32) : Linear.linear(x32, w32, b32)).singletonOrThrow()) {
        return out.toType(DataType.FLOAT16, false);
      }
    }
    return (b == null ? Linear.linear(x, w) : Linear.linear(x, w, b)).singletonOrThrow();
  }

  /**
   * A float32 copy of a weight in the step's manager (the activation's): the model's manager is capped,
   * so the copy is made by writing into an array the step owns, and it is freed with the step.
   */
  private static NDArray widened(NDArray activation, NDArray weight) {
    NDArray copy = activation.getManager().create(weight.getShape(), DataType.FLOAT32);
    copy.set(new ai.djl.ndarray.index.NDIndex(":"), weight);
    return copy;
  }

  /** RMSNorm computed in float32: w * x / sqrt(mean(x^2) + eps), cast back to x's type. */
  public static NDArray rmsNorm(NDArray x, NDArray w, float eps) {
    DataType type = x.getDataType();
    NDArray x32 = type == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
    NDArray variance = x32.square().mean(new int[] {-1}, true);
    NDArray normed = x32.mul(variance.add(eps).sqrt().pow(-1));
    if (type != DataType.FLOAT32) normed = normed.toType(type, false);
    return normed.mul(w);
  }

  /** silu(gate) * up, where gateUp holds [gate | up] along the last axis. */
  public static NDArray swiGlu(NDArray gateUp, int ffn) {
    NDArray gate = gateUp.get(":, :{}", ffn);
    NDArray up = gateUp.get(":, {}:", ffn);
    return gate.mul(Activation.sigmoid(gate)).mul(up);
  }
}
