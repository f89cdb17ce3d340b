package ai.zhiku.inference.weights.quantized;

import ai.zhiku.inference.weights.CheckpointException;
import ai.zhiku.inference.weights.WeightsIndex;

/**
 * An AWQ layer in AutoAWQ's GEMM layout: {@code qweight} int32 [cols, rows / 8], each holding eight
 * output rows of one input column in AWQ's order (bits 4i hold row {@code [0, 2, 4, 6, 1, 3, 5, 7][i]}
 * of the eight); {@code qzeros} int32 [groups, rows / 8] packed the same way; {@code scales}
 * float16 [groups, rows]; groups of {@code group_size} consecutive input columns.
 */
final class AwqRows extends QuantizedRows {
  /** Bit position / 4 of each of eight consecutive rows in an int32. */
  private static final int[] NIBBLE_OF_ROW = {0, 4, 1, 5, 2, 6, 3, 7};

  private final int groupSize;
  private final int[] qweight;
  private final int[] qzeros;
  private final float[] scales;

  AwqRows(WeightsIndex index, StoredQuantization q, String base) {
    this(index, q, base, shape(index, base + ".qweight", 2));
  }

  private AwqRows(WeightsIndex index, StoredQuantization q, String base, long[] qw) {
    super(base, toInt(qw[1] * 8, base + ".qweight"), toInt(qw[0], base + ".qweight"), groupsOf(qw[0], q.groupSize(), base), 4);
    this.groupSize = q.groupSize();
    expect(index, base + ".qzeros", groups, rows / 8);
    expect(index, base + ".scales", groups, rows);
    this.qweight = index.ints(base + ".qweight");
    this.qzeros = index.ints(base + ".qzeros");
    this.scales = index.floats(base + ".scales");
  }

  private static int groupsOf(long cols, int groupSize, String base) {
    if (cols % groupSize != 0) throw new CheckpointException(base + ".qweight has " + cols + " input columns, not groups of " + groupSize);
    return (int) (cols / groupSize);
  }

  @Override
  public int group(int k) { return k / groupSize; }

  @Override
  public int stored(int r, int k) {
    return (qweight[k * (rows / 8) + r / 8] >>> (4 * NIBBLE_OF_ROW[r % 8])) & 15;
  }

  @Override
  public float scale(int r, int g) { return scales[g * rows + r]; }

  @Override
  public float zero(int r, int g) {
    return (qzeros[g * (rows / 8) + r / 8] >>> (4 * NIBBLE_OF_ROW[r % 8])) & 15;
  }
}
