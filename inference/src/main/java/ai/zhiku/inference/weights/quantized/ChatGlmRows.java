package ai.zhiku.inference.weights.quantized;

import ai.zhiku.inference.weights.CheckpointException;
import ai.zhiku.inference.weights.TensorDType;
import ai.zhiku.inference.weights.WeightsIndex;

/**
 * A layer of THUDM's ChatGLM int4/int8 checkpoints ({@code quantization_bit} in config.json):
 * {@code weight} int8 [rows, cols] (int8) or [rows, cols / 2] (int4: each byte holds column 2j in
 * its high four bits and column 2j + 1 in its low four, both signed), and {@code weight_scale}
 * [rows], one scale a row (its largest magnitude over 7 or 127): the weight is value · scale.
 */
final class ChatGlmRows extends QuantizedRows {
  private final int[] weight;
  private final float[] scale;

  ChatGlmRows(WeightsIndex index, StoredQuantization q, String base) {
    this(index, q, base, shape(index, base + ".weight", 2));
  }

  private ChatGlmRows(WeightsIndex index, StoredQuantization q, String base, long[] w) {
    super(base, toInt(w[0], base + ".weight"), toInt(w[1] * 8 / q.bits(), base + ".weight"), 1, q.bits());
    if (index.info(base + ".weight").dtype() != TensorDType.I8) {
      throw new CheckpointException(base + ".weight is " + index.info(base + ".weight").dtype() + ", expected int8 (quantization_bit "
          + bits + ")");
    }
    expect(index, base + ".weight_scale", rows);
    this.weight = index.ints(base + ".weight");
    this.scale = index.floats(base + ".weight_scale");
  }

  @Override
  public int group(int k) { return 0; }

  @Override
  public int stored(int r, int k) {
    if (bits == 8) return weight[r * cols + k] + 128;
    int b = weight[r * (cols / 2) + k / 2];
    int v = (k & 1) == 0 ? b >> 4 : (b << 28) >> 28;
    return v + 8;
  }

  @Override
  public float scale(int r, int g) { return scale[r]; }

  @Override
  public float zero(int r, int g) { return bits == 8 ? 128 : 8; }
}
