package ai.zhiku.inference.weights.quantized;

import ai.zhiku.inference.weights.CheckpointException;
import ai.zhiku.inference.weights.TensorInfo;
import ai.zhiku.inference.weights.WeightsIndex;
import java.util.Arrays;

/**
 * One linear layer's weight [rows = out features, cols = in features] as a quantized checkpoint
 * stores it, read back row by row as unsigned integers u, one scale s and one zero point z per
 * row and group: the weight is {@code s · (u − z)}. Column k belongs to group {@link #group(int)}
 * (in order unless the checkpoint was quantized in act order).
 */
public abstract class QuantizedRows {
  protected final String name;
  protected final int rows;
  protected final int cols;
  protected final int groups;
  protected final int bits;

  QuantizedRows(String name, int rows, int cols, int groups, int bits) {
    this.name = name;
    this.rows = rows;
    this.cols = cols;
    this.groups = groups;
    this.bits = bits;
  }

  /**
   * The quantized weight stored for {@code weightName} (a float checkpoint's {@code ....weight}), or
   * null when the checkpoint holds that one unquantized.
   */
  public static QuantizedRows open(WeightsIndex index, StoredQuantization q, String weightName) {
    if (!weightName.endsWith(".weight")) return null;
    String base = weightName.substring(0, weightName.length() - ".weight".length());
    return switch (q.method()) {
      case GPTQ -> index.contains(base + ".qweight") ? new GptqRows(index, q, base) : null;
      case AWQ -> index.contains(base + ".qweight") ? new AwqRows(index, q, base) : null;
      case CHATGLM -> index.contains(base + ".weight_scale") ? new ChatGlmRows(index, q, base) : null;
    };
  }

  /**
   * The [rows, cols] of the float weight {@code weightName} stands for when the checkpoint stores it
   * quantized, from the tensors' headers alone; null when it is stored as floats.
   */
  public static long[] shapeOf(WeightsIndex index, StoredQuantization q, String weightName) {
    if (!weightName.endsWith(".weight")) return null;
    String base = weightName.substring(0, weightName.length() - ".weight".length());
    switch (q.method()) {
      case GPTQ, AWQ -> {
        if (!index.contains(base + ".qweight")) return null;
        long[] s = index.info(base + ".qweight").shape();
        if (s.length != 2) return null;
        return q.method() == StoredQuantization.Method.GPTQ ? new long[] {s[1], s[0] * 32 / q.bits()} : new long[] {s[1] * 8, s[0]};
      }
      default -> {
        if (!index.contains(base + ".weight_scale") || !index.contains(weightName)) return null;
        long[] s = index.info(weightName).shape();
        return s.length != 2 ? null : new long[] {s[0], s[1] * 8 / q.bits()};
      }
    }
  }

  public String name() { return name; }

  public int rows() { return rows; }

  public int cols() { return cols; }

  public int groups() { return groups; }

  public int bits() { return bits; }

  /** The group of input column k. */
  public abstract int group(int k);

  /** The unsigned stored value of row r, column k. */
  public abstract int stored(int r, int k);

  public abstract float scale(int r, int g);

  public abstract float zero(int r, int g);

  /** The weight of row r, column k as the checkpoint defines it. */
  public float weight(int r, int k) {
    int g = group(k);
    return scale(r, g) * (stored(r, k) - zero(r, g));
  }

  /** Fails with the tensor, its shape and the one expected unless they agree. */
  static TensorInfo expect(WeightsIndex index, String tensor, long... shape) {
    TensorInfo info = index.info(tensor);
    if (!Arrays.equals(info.shape(), shape)) {
      throw new CheckpointException("quantized tensor " + tensor + " has shape " + Arrays.toString(info.shape())
          + ", expected " + Arrays.toString(shape) + " from the other tensors of its layer");
    }
    return info;
  }

  static long[] shape(WeightsIndex index, String tensor, int dims) {
    long[] s = index.info(tensor).shape();
    if (s.length != dims) throw new CheckpointException("quantized tensor " + tensor + " has " + s.length + " dimensions, expected " + dims);
    return s;
  }

  static int toInt(long v, String tensor) {
    if (v <= 0 || v > Integer.MAX_VALUE) throw new CheckpointException("quantized tensor " + tensor + " has a dimension of " + v);
    return (int) v;
  }
}
