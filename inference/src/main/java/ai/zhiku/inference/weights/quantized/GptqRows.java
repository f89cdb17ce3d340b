package ai.zhiku.inference.weights.quantized;

import ai.zhiku.inference.weights.CheckpointException;
import ai.zhiku.inference.weights.WeightsIndex;

/**
 * A GPTQ layer, as AutoGPTQ and GPTQModel write it: {@code qweight} int32 [cols · bits / 32, rows],
 * each holding 32 / bits consecutive input columns of one output row, the first in the lowest bits;
 * {@code qzeros} int32 [groups, rows · bits / 32], consecutive output rows packed the same way,
 * stored minus one in the original format ({@code gptq}; read back as {@code (stored + 1) & mask})
 * and as they are in {@code gptq_v2}; {@code scales} float16 [groups, rows]; {@code g_idx} int32
 * [cols], the group of each input column (shuffled in act order; absent means column / group size).
 */
final class GptqRows extends QuantizedRows {
  private final int pack;
  private final int mask;
  private final int[] qweight;
  private final int[] qzeros;
  private final float[] scales;
  private final int[] gIdx;
  private final boolean zerosMinusOne;

  GptqRows(WeightsIndex index, StoredQuantization q, String base) {
    this(index, q, base, shape(index, base + ".qweight", 2), shape(index, base + ".scales", 2));
  }

  private GptqRows(WeightsIndex index, StoredQuantization q, String base, long[] qw, long[] sc) {
    super(base, toInt(qw[1], base + ".qweight"), toInt(qw[0] * 32 / q.bits(), base + ".qweight"), toInt(sc[0], base + ".scales"), q.bits());
    this.pack = 32 / bits;
    this.mask = (1 << bits) - 1;
    this.zerosMinusOne = q.zerosMinusOne();
    if (rows % pack != 0) throw new CheckpointException(base + ".qweight has " + rows + " output rows, not a multiple of " + pack);
    expect(index, base + ".scales", groups, rows);
    expect(index, base + ".qzeros", groups, rows / pack);
    if (q.groupSize() > 0 && (long) groups * q.groupSize() < cols) {
      throw new CheckpointException(base + ".scales has " + groups + " groups of " + q.groupSize() + " for " + cols + " input columns");
    }
    this.qweight = index.ints(base + ".qweight");
    this.qzeros = index.ints(base + ".qzeros");
    this.scales = index.floats(base + ".scales");
    if (index.contains(base + ".g_idx")) {
      expect(index, base + ".g_idx", cols);
      this.gIdx = index.ints(base + ".g_idx");
      for (int k = 0; k < cols; k++) {
        if (gIdx[k] < 0 || gIdx[k] >= groups) {
          throw new CheckpointException(base + ".g_idx gives column " + k + " group " + gIdx[k] + " of " + groups);
        }
      }
    } else {
      int size = q.groupSize() < 0 ? cols : q.groupSize();
      this.gIdx = new int[cols];
      for (int k = 0; k < cols; k++) gIdx[k] = Math.min(groups - 1, k / size);
    }
  }

  @Override
  public int group(int k) { return gIdx[k]; }

  @Override
  public int stored(int r, int k) {
    return (qweight[(k / pack) * rows + r] >>> (bits * (k % pack))) & mask;
  }

  @Override
  public float scale(int r, int g) { return scales[g * rows + r]; }

  @Override
  public float zero(int r, int g) {
    int z = (qzeros[g * (rows / pack) + r / pack] >>> (bits * (r % pack))) & mask;
    return zerosMinusOne ? (z + 1) & mask : z;
  }
}
