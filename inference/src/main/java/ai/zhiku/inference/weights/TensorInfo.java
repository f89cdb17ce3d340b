package ai.zhiku.inference.weights;

import java.util.Arrays;

/**
 * One stored tensor: its name, element type, shape and the checkpoint file (relative to the
 * model directory) that holds it.
 */
public record TensorInfo(String name, TensorDType dtype, long[] shape, String file) {
  public TensorInfo {
    shape = shape.clone();
  }

  @Override
  public long[] shape() { return shape.clone(); }

  public long numel() {
    long n = 1;
    for (long d : shape) n *= d;
    return n;
  }

  public long byteSize() { return numel() * dtype.bytes(); }

  @Override
  public String toString() {
    return name + " " + dtype + Arrays.toString(shape) + " in " + file;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorInfo t && t.name.equals(name) && t.dtype == dtype
        && Arrays.equals(t.shape, shape) && t.file.equals(file);
  }

  @Override
  public int hashCode() { return name.hashCode() * 31 + Arrays.hashCode(shape); }
}
