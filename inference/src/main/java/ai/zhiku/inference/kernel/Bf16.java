package ai.zhiku.inference.kernel;

/** bfloat16 numbers held as the upper 16 bits of a float32, stored in a {@code short}. */
public final class Bf16 {
  private Bf16() {}

  /** Round to nearest, ties to even, as PyTorch's {@code tensor.to(torch.bfloat16)}; NaN stays NaN. */
  public static short fromFloat(float f) {
    int bits = Float.floatToRawIntBits(f);
    if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x0040);
    return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
  }

  /** Exact. */
  public static float toFloat(short b) {
    return Float.intBitsToFloat(b << 16);
  }
}
