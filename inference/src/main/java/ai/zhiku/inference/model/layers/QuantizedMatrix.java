package ai.zhiku.inference.model.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.zhiku.inference.kernel.PackedWeights;
import ai.zhiku.inference.kernel.QuantizedProducts;

/**
 * A weight quantized to int8 or int4 per group of columns ({@link PackedWeights}), multiplied on
 * {@link QuantizedProducts} with the activations quantized to int8 per group.
 */
public final class QuantizedMatrix implements HostMatrix {
  private final PackedWeights w;

  public QuantizedMatrix(PackedWeights w) {
    this.w = w;
  }

  public PackedWeights packed() { return w; }

  @Override
  public long rows() { return w.rows(); }

  @Override
  public long cols() { return w.cols(); }

  @Override
  public long bytes() { return w.bytes(); }

  @Override
  public void multiply(float[] x, int n, float[] y) {
    QuantizedProducts.multiply(w, x, n, y);
  }

  @Override
  public NDArray multiply(NDArray x, NDArray bias) {
    Shape s = x.getShape();
    if (s.dimension() != 2 || s.get(1) != w.cols() || x.getDataType() != DataType.FLOAT32) {
      throw new IllegalArgumentException("expected float32 activations [n, " + w.cols() + "], got " + x.getDataType() + " " + s);
    }
    int n = Math.toIntExact(s.get(0));
    float[] in = new float[Math.multiplyExact(n, w.cols())];
    Bf16Matrix.read(x, in, in.length);
    float[] out = new float[Math.multiplyExact(n, w.rows())];
    multiply(in, n, out);
    NDArray y = Bf16Matrix.array(x.getManager(), out, n, w.rows());
    return bias == null ? y : y.add(bias);
  }

  @Override
  public NDArray rows(NDManager step, long[] ids) {
    int cols = w.cols();
    float[] out = new float[Math.multiplyExact(ids.length, cols)];
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= w.rows()) throw new IndexOutOfBoundsException("row " + ids[i] + " of " + w.rows());
      for (int k = 0; k < cols; k++) out[i * cols + k] = w.weight((int) ids[i], k);
    }
    return Bf16Matrix.array(step, out, ids.length, cols);
  }
}
