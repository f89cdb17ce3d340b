package ai.zhiku.inference.model.layers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.zhiku.inference.kernel.Bf16;
import java.util.Random;
import org.assertj.core.data.Offset;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Bf16MatrixTest {

  /** Decode-sized and prefill-sized products (each kernel's path, or widened slices through PyTorch), with bias. */
  @ParameterizedTest
  @ValueSource(ints = {1, 5, Bf16Matrix.WIDEN_ROWS + 3})
  void multipliesLikeTheWidenedFloat32Weight(int n) {
    int out = 96;
    int in = 64;
    Random rnd = new Random(n);
    short[] data = new short[out * in];
    float[] widened = new float[out * in];
    for (int i = 0; i < data.length; i++) {
      data[i] = Bf16.fromFloat((float) rnd.nextGaussian() * 0.1f);
      widened[i] = Bf16.toFloat(data[i]);
    }
    Bf16Matrix m = new Bf16Matrix(data, out, in);
    try (NDManager model = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      NDArray bias = model.randomNormal(0, 0.1f, new Shape(out), DataType.FLOAT32);
      NDArray reference = model.create(widened, new Shape(out, in));
      model.cap(); // as in the engine: everything a product makes belongs to the step
      try (NDManager step = model.newSubManager()) {
        NDArray x = step.randomNormal(0, 1, new Shape(n, in), DataType.FLOAT32);
        int before = step.getManagedArrays().size();
        NDArray y = m.multiply(x, bias);
        assertThat(y.getShape()).isEqualTo(new Shape(n, out));
        assertThat(y.getDataType()).isEqualTo(DataType.FLOAT32);
        assertThat(step.getManagedArrays().size()).as("temporaries are freed at once").isLessThanOrEqualTo(before + 2);
        float[] got = y.toFloatArray();
        // the product takes the activations rounded to bfloat16, as PyTorch's bfloat16 layers do
        NDArray rounded = step.create(roundedToBf16(x.toFloatArray()), new Shape(n, in));
        float[] expected = new TorchMatrix(reference).multiply(rounded, bias).toFloatArray();
        for (int i = 0; i < got.length; i++) assertThat(got[i]).isCloseTo(expected[i], Offset.offset(1e-4f));
      }
    }
  }

  /** A product's result is its own memory: later products, decode-sized or widened, leave it as it was. */
  @org.junit.jupiter.api.Test
  void resultsSurviveLaterProducts() {
    int out = 40;
    int in = 24;
    short[] data = new short[out * in];
    for (int i = 0; i < data.length; i++) data[i] = Bf16.fromFloat((i % 11) * 0.125f - 0.5f);
    Bf16Matrix m = new Bf16Matrix(data, out, in);
    try (NDManager step = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      NDArray first = m.multiply(step.randomNormal(0, 1, new Shape(2, in), DataType.FLOAT32), null);
      float[] before = first.toFloatArray();
      m.multiply(step.randomNormal(0, 1, new Shape(3, in), DataType.FLOAT32), null);
      m.multiply(step.randomNormal(0, 1, new Shape(Bf16Matrix.WIDEN_ROWS + 1, in), DataType.FLOAT32), null);
      Bf16Matrix.array(step, new float[2 * out], 2, out);
      assertThat(first.toFloatArray()).containsExactly(before);
    }
  }

  /** Activations that are a strided view (a transpose) are read as their values, not their storage order. */
  @org.junit.jupiter.api.Test
  void readsStridedActivationsByValue() {
    int out = 40;
    int in = 24;
    short[] data = new short[out * in];
    for (int i = 0; i < data.length; i++) data[i] = Bf16.fromFloat((i % 13) * 0.25f - 1.5f);
    Bf16Matrix m = new Bf16Matrix(data, out, in);
    try (NDManager step = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      NDArray t = step.randomNormal(0, 1, new Shape(in, 3), DataType.FLOAT32).transpose(); // [3, in], strided
      float[] viaView = m.multiply(t, null).toFloatArray();
      float[] viaCopy = m.multiply(t.duplicate(), null).toFloatArray();
      // the Vector API's interpreted fallback and C2 sum lanes in different orders: equal to rounding
      for (int i = 0; i < viaView.length; i++) assertThat(viaView[i]).isCloseTo(viaCopy[i], Offset.offset(1e-5f));
      float[] xs = roundedToBf16(t.toFloatArray());
      for (int o = 0; o < out; o++) {
        double e = 0;
        for (int k = 0; k < in; k++) e += Bf16.toFloat(data[o * in + k]) * xs[k];
        assertThat((double) viaView[o]).isCloseTo(e, Offset.offset(1e-4));
      }
    }
  }

  private static float[] roundedToBf16(float[] v) {
    float[] r = new float[v.length];
    for (int i = 0; i < v.length; i++) r[i] = Bf16.toFloat(Bf16.fromFloat(v[i]));
    return r;
  }

  @ParameterizedTest
  @ValueSource(ints = {7})
  void gathersRowsAndRefusesWrongShapes(int rows) {
    int cols = 5;
    short[] data = new short[rows * cols];
    for (int i = 0; i < data.length; i++) data[i] = Bf16.fromFloat(i * 0.5f);
    Bf16Matrix m = new Bf16Matrix(data, rows, cols);
    try (NDManager step = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      NDArray got = m.rows(step, new long[] {3, 0, 3});
      assertThat(got.getShape()).isEqualTo(new Shape(3, cols));
      assertThat(got.toFloatArray()).containsExactly(7.5f, 8f, 8.5f, 9f, 9.5f, 0f, 0.5f, 1f, 1.5f, 2f, 7.5f, 8f, 8.5f, 9f, 9.5f);
      assertThatThrownBy(() -> m.rows(step, new long[] {rows})).isInstanceOf(IndexOutOfBoundsException.class);
      assertThatThrownBy(() -> m.multiply(step.zeros(new Shape(2, cols + 1)), null)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> m.multiply(step.zeros(new Shape(2, cols), DataType.FLOAT16), null))
          .isInstanceOf(IllegalArgumentException.class);
    }
    assertThatThrownBy(() -> new Bf16Matrix(new short[10], 3, 3)).isInstanceOf(IllegalArgumentException.class);
  }
}
