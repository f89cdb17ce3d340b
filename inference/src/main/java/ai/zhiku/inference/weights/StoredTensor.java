package ai.zhiku.inference.weights;

import java.nio.file.Path;

/**
 * Where a tensor's bytes lie: the storage starts at {@code storageOffset} bytes into
 * {@code path} and holds {@code storageBytes} bytes; the tensor starts {@code elementOffset}
 * elements into it, with the given element strides (null when contiguous row-major).
 */
record StoredTensor(TensorInfo info, Path path, long storageOffset, long storageBytes,
                    long elementOffset, long[] strides) {

  boolean contiguous() {
    if (strides == null) return true;
    long[] shape = info.shape();
    long expected = 1;
    for (int i = shape.length - 1; i >= 0; i--) {
      if (shape[i] != 1 && strides[i] != expected) return false;
      expected *= shape[i];
    }
    return true;
  }
}
