package ai.zhiku.inference.model.layers;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class TorchMatrixTest {

  /** The float32-widened float16 product (many rows) agrees with the plain float16 one (row by row). */
  @Test
  void widenedHalfPrecisionLinearMatchesThePlainOne() {
    try (NDManager model = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      NDArray w = model.randomNormal(0, 0.05f, new Shape(96, 64), DataType.FLOAT32).toType(DataType.FLOAT16, false);
      NDArray b = model.randomNormal(0, 0.05f, new Shape(96), DataType.FLOAT32).toType(DataType.FLOAT16, false);
      model.cap(); // as in the engine: the widened copies must live in the step's manager
      try (NDManager step = model.newSubManager()) {
        int rows = (int) TorchMatrix.WIDEN_ROWS + 16;
        NDArray x = step.randomNormal(0, 1, new Shape(rows, 64), DataType.FLOAT32).toType(DataType.FLOAT16, false);
        int before = step.getManagedArrays().size();
        NDArray widened = new TorchMatrix(w).multiply(x, b);
        assertThat(widened.getDataType()).isEqualTo(DataType.FLOAT16);
        assertThat(widened.getShape()).isEqualTo(new Shape(rows, 96));
        assertThat(step.getManagedArrays().size()).as("temporaries are freed at once").isEqualTo(before + 1);
        float[] got = widened.toType(DataType.FLOAT32, false).toFloatArray();
        for (int r = 0; r < rows; r++) {
          NDArray one = new TorchMatrix(w).multiply(x.get("{}:{}", r, r + 1), b).toType(DataType.FLOAT32, false);
          float[] expected = one.toFloatArray();
          for (int c = 0; c < expected.length; c++) {
            assertThat(got[r * 96 + c]).isCloseTo(expected[c], org.assertj.core.data.Offset.offset(0.01f + Math.abs(expected[c]) * 0.002f));
          }
        }
      }
    }
  }
}
