package ai.zhiku.inference.model.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Activation;

/** The building blocks both families share. Activations come first in every op, so results stay in the step's manager. */
public final class Layers {
  private Layers() {}

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
