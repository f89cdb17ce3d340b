package ai.zhiku.inference.kernel;

/** The plain loop, for JVMs started without {@code --add-modules jdk.incubator.vector}. */
final class ScalarBf16Kernel implements Bf16Kernel {
  @Override
  public void multiply(short[] w, int in, float[] x, int rows, float[] y, int out, int o0, int o1) {
    for (int o = o0; o < o1; o++) {
      int wo = o * in;
      for (int r = 0; r < rows; r++) {
        int xo = r * in;
        float s = 0f;
        for (int k = 0; k < in; k++) s += Float.intBitsToFloat(w[wo + k] << 16) * x[xo + k];
        y[r * out + o] = s;
      }
    }
  }
}
