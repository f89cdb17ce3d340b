package ai.zhiku.inference.model.layers;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.core.Linear;

/** A weight held as a PyTorch tensor in the compute type (float32 or float16), multiplied by PyTorch. */
public record TorchMatrix(NDArray w) implements Matrix {
  /**
   * From this many rows on, a float16 product on the CPU is computed in float32. PyTorch's CPU float16
   * GEMM is slow on this hardware (no AVX512-FP16) while its float16 GEMV is the fastest path: measured
   * for a [16384, 2048] weight, 256 rows took 376 ms in float16 and 165 ms widened (129 ms for float32
   * weights); widening costs about 35 ms per such matrix, so it pays from about 40 rows. Decode steps
   * (one row per sequence) stay in float16.
   */
  static final long WIDEN_ROWS = 48;

  @Override
  public long rows() { return w.getShape().get(0); }

  @Override
  public long cols() { return w.getShape().get(1); }

  @Override
  public NDArray multiply(NDArray x, NDArray b) {
    if (x.getDataType() == DataType.FLOAT16 && x.getDevice().getDeviceType().equals(Device.Type.CPU)
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

  @Override
  public NDArray rows(NDManager step, long[] ids) {
    return w.get(step, new NDIndex("{}", step.create(ids)));
  }

  /**
   * A float32 copy of a weight in the step's manager (the activation's): the model's manager is capped,
   * so the copy is made by writing into an array the step owns, and it is freed with the step.
   */
  private static NDArray widened(NDArray activation, NDArray weight) {
    NDArray copy = activation.getManager().create(weight.getShape(), DataType.FLOAT32);
    copy.set(new NDIndex(":"), weight);
    return copy;
  }
}
