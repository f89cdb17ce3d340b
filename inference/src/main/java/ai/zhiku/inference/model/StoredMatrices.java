package ai.zhiku.inference.model;

import ai.zhiku.inference.kernel.Bf16;
import ai.zhiku.inference.kernel.PackedWeights;
import ai.zhiku.inference.model.WeightLoader.Rows;
import ai.zhiku.inference.model.layers.Bf16Matrix;
import ai.zhiku.inference.model.layers.Matrix;
import ai.zhiku.inference.model.layers.QuantizedMatrix;
import ai.zhiku.inference.weights.CheckpointException;
import ai.zhiku.inference.weights.quantized.QuantizedRows;
import java.util.List;

/**
 * A matrix stacked from row ranges of a checkpoint's quantized layers ({@link QuantizedRows}), packed
 * for the quantized products with the stored integers, scales and zero points unchanged: nothing is
 * quantized again. Act-order layers get their columns sorted by group (the products permute their
 * inputs to match). Layers whose groups the packed layout cannot hold (groups of other than a
 * multiple of 8 columns, or of unequal sizes) are dequantized to bfloat16 instead, with a warning.
 */
final class StoredMatrices {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(StoredMatrices.class);

  private StoredMatrices() {}

  static Matrix pack(List<Rows> parts, List<QuantizedRows> sources) {
    QuantizedRows first = sources.get(0);
    int cols = first.cols();
    long total = 0;
    for (int i = 0; i < parts.size(); i++) {
      QuantizedRows q = sources.get(i);
      Rows r = parts.get(i);
      if (q.cols() != cols || q.bits() != first.bits() || q.groups() != first.groups()) {
        throw new CheckpointException("quantized tensors " + first.name() + " and " + q.name() + " are stacked into one matrix but have "
            + "different input sizes, bits or groups");
      }
      for (int k = 0; k < cols; k++) {
        if (q.group(k) != first.group(k)) {
          throw new CheckpointException("quantized tensors " + first.name() + " and " + q.name() + " are stacked into one matrix but group "
              + "their input columns differently (act order)");
        }
      }
      long end = r.count() < 0 ? q.rows() : r.first() + r.count();
      if (r.first() < 0 || end > q.rows()) throw new CheckpointException("rows " + r.first() + ".." + end + " of " + q.name() + " (" + q.rows() + ")");
      total += end - r.first();
    }
    int rows = Math.toIntExact(total);
    int[] order = groupOrder(first);
    int group = cols / first.groups();
    if (order == null || group % 8 != 0) {
      log.warn("{} [{}, {}] ({} groups) is dequantized to bfloat16: the packed layout needs equal groups of a multiple of 8 columns",
          first.name(), rows, cols, first.groups());
      return dequantized(parts, sources, rows, cols);
    }
    boolean inOrder = true;
    for (int j = 0; j < cols && inOrder; j++) inOrder = order[j] == j;
    int offset = first.bits() == 8 ? 128 : 8;
    boolean zeros = false;
    for (int i = 0; i < parts.size() && !zeros; i++) {
      QuantizedRows q = sources.get(i);
      for (int r = 0; r < q.rows() && !zeros; r++) {
        for (int g = 0; g < q.groups() && !zeros; g++) zeros = q.zero(r, g) != offset;
      }
    }
    PackedWeights packed = PackedWeights.allocateStored(first.bits(), rows, cols, group, zeros, inOrder ? null : order);
    int groups = first.groups();
    int[] stored = new int[PackedWeights.BLOCK * cols];
    float[] scales = new float[PackedWeights.BLOCK * groups];
    float[] zeroPoints = new float[PackedWeights.BLOCK * groups];
    int filled = 0;
    int b = 0;
    for (int i = 0; i < parts.size(); i++) {
      QuantizedRows q = sources.get(i);
      Rows part = parts.get(i);
      long end = part.count() < 0 ? q.rows() : part.first() + part.count();
      for (int r = (int) part.first(); r < end; r++) {
        for (int j = 0; j < cols; j++) stored[filled * cols + j] = q.stored(r, order[j]);
        for (int g = 0; g < groups; g++) {
          scales[filled * groups + g] = q.scale(r, g);
          zeroPoints[filled * groups + g] = q.zero(r, g);
        }
        if (++filled == PackedWeights.BLOCK) {
          packed.packStored(b++, stored, scales, zeroPoints, filled);
          filled = 0;
        }
      }
    }
    if (filled > 0) packed.packStored(b, stored, scales, zeroPoints, filled);
    return new QuantizedMatrix(packed);
  }

  /**
   * The input columns sorted by group, stably (the identity when groups are in order); null when the
   * groups are not all of one size.
   */
  static int[] groupOrder(QuantizedRows q) {
    int cols = q.cols();
    int groups = q.groups();
    if (cols % groups != 0) return null;
    int[] count = new int[groups + 1];
    for (int k = 0; k < cols; k++) count[q.group(k) + 1]++;
    for (int g = 0; g < groups; g++) {
      if (count[g + 1] != cols / groups) return null;
      count[g + 1] += count[g];
    }
    int[] order = new int[cols];
    for (int k = 0; k < cols; k++) order[count[q.group(k)]++] = k;
    return order;
  }

  private static Matrix dequantized(List<Rows> parts, List<QuantizedRows> sources, int rows, int cols) {
    short[] data = new short[Math.multiplyExact(rows, cols)];
    int at = 0;
    for (int i = 0; i < parts.size(); i++) {
      QuantizedRows q = sources.get(i);
      Rows part = parts.get(i);
      long end = part.count() < 0 ? q.rows() : part.first() + part.count();
      for (int r = (int) part.first(); r < end; r++) {
        for (int k = 0; k < cols; k++) data[at++] = Bf16.fromFloat(q.weight(r, k));
      }
    }
    return new Bf16Matrix(data, rows, cols);
  }
}
