package ai.zhiku.inference.kernel;

/**
 * A weight matrix [rows, cols] quantized to int8 or int4 with one float scale per group of
 * {@code group} columns of a row (symmetric, no zero point), in the layout the products read:
 * rows in blocks of 16, so that one 32-bit lane of a 512-bit register holds one row (see
 * {@code src/main/c/zhiku_int8.c}).
 * <ul>
 *   <li>int8: per block, for every 4 columns 64 bytes: row 0's four weights, row 1's, ... each
 *       stored as {@code q + 128} (q in [-127, 127], scale = max|w| / 127);
 *   <li>int4: per block, for every 8 columns 64 bytes: per row 4 bytes, byte j holding column j
 *       in its low nibble and column j + 4 in its high one, each as {@code q + 8} (q in [-8, 7];
 *       the group's weight of largest magnitude maps to -8 exactly, as llama.cpp's Q4_0 does).
 * </ul>
 * Scales are laid out [block][group][16]. A last, partial block is padded with zero weights.
 *
 * <p>Checkpoints quantized with zero points (GPTQ, AWQ) are stored as they are, their unsigned
 * values in the same layout, with one more float per row and group, the {@code offset}
 * {@code scale · (8 − zero)} (int4; 128 for int8) that the products add times the group's sum of
 * activations: {@code scale · (u − zero) = scale · (u − 8) + offset}. Checkpoints quantized in
 * act order ({@code desc_act}) keep their columns sorted by group: packed column j is input column
 * {@code order[j]}, and the products permute their activations to match.
 */
public final class PackedWeights {
  /** Rows per block: one per int32 lane of a 512-bit register. */
  public static final int BLOCK = 16;

  private final int bits;
  private final int rows;
  private final int cols;
  private final int group;
  private final byte[] data;
  private final float[] scales;
  /** Per block, group and row: the zero points' term, or null when every zero point is the format's offset. */
  private final float[] offsets;
  /** Input column of each packed column, or null when they are in order. */
  private final int[] order;
  /** The packed column of each input column, or null. */
  private final int[] inverse;

  private PackedWeights(int bits, int rows, int cols, int group, boolean withOffsets, int[] order) {
    if (bits != 8 && bits != 4) throw new IllegalArgumentException("bits must be 8 or 4, got " + bits);
    if (group <= 0 || cols % group != 0 || group % 8 != 0) {
      throw new IllegalArgumentException("group " + group + " must be a multiple of 8 that divides the " + cols + " columns");
    }
    this.bits = bits;
    this.rows = rows;
    this.cols = cols;
    this.group = group;
    long bytes = (long) blocks(rows) * blockBytes(bits, cols);
    if (bytes > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("quantized matrix of " + bytes + " bytes is larger than one array");
    this.data = new byte[(int) bytes];
    this.scales = new float[Math.toIntExact((long) blocks(rows) * BLOCK * (cols / group))];
    this.offsets = withOffsets ? new float[scales.length] : null;
    if (order != null) {
      if (order.length != cols) throw new IllegalArgumentException("column order of " + order.length + " for " + cols + " columns");
      boolean[] seen = new boolean[cols];
      for (int k : order) {
        if (k < 0 || k >= cols || seen[k]) throw new IllegalArgumentException("column order is not a permutation of " + cols + " columns");
        seen[k] = true;
      }
      this.order = order.clone();
      this.inverse = new int[cols];
      for (int j = 0; j < cols; j++) inverse[order[j]] = j;
    } else {
      this.order = null;
      this.inverse = null;
    }
  }

  /** An empty matrix to be filled block by block with {@link #pack}. */
  public static PackedWeights allocate(int bits, int rows, int cols, int group) {
    return new PackedWeights(bits, rows, cols, group, false, null);
  }

  /**
   * An empty matrix to be filled with stored values by {@link #packStored}: with zero-point offsets
   * when {@code withOffsets}, its columns in {@code order} (null: as they come).
   */
  public static PackedWeights allocateStored(int bits, int rows, int cols, int group, boolean withOffsets, int[] order) {
    return new PackedWeights(bits, rows, cols, group, withOffsets, order);
  }

  /**
   * The group size used for a matrix of {@code cols} columns when {@code wanted} was asked for: the
   * largest multiple of 8 that divides cols and is at most wanted; 0 when there is none.
   */
  public static int groupFor(int cols, int wanted) {
    for (int g = Math.min(wanted, cols) / 8 * 8; g >= 8; g -= 8) {
      if (cols % g == 0) return g;
    }
    return 0;
  }

  static int blocks(int rows) { return (rows + BLOCK - 1) / BLOCK; }

  static long blockBytes(int bits, int cols) { return (long) cols * BLOCK * bits / 8; }

  public int bits() { return bits; }

  public int rows() { return rows; }

  public int cols() { return cols; }

  public int group() { return group; }

  public int groups() { return cols / group; }

  byte[] data() { return data; }

  float[] scales() { return scales; }

  /** The zero points' terms, [block][group][16], or null. */
  float[] offsets() { return offsets; }

  /** The input column of each packed column, or null when they are in order (not a copy: do not change it). */
  int[] order() { return order; }

  /** Bytes one product reads: packed weights, scales and zero-point offsets. */
  public long bytes() { return data.length + 4L * scales.length + (offsets == null ? 0 : 4L * offsets.length); }

  /**
   * Stores rows [16 b, 16 b + count) as given: {@code stored} count rows of cols unsigned values
   * (0-255 for int8, 0-15 for int4) in packed column order, {@code scales} and {@code zeros} count
   * rows of one float a group; each weight is {@code scale · (stored − zero)}.
   */
  public void packStored(int b, int[] stored, float[] scales, float[] zeros, int count) {
    int groups = cols / group;
    if (b < 0 || b >= blocks(rows) || count != Math.min(BLOCK, rows - b * BLOCK) || stored.length < count * cols
        || scales.length < count * groups || zeros.length < count * groups) {
      throw new IllegalArgumentException("block " + b + " of " + blocks(rows) + " with " + count + " rows");
    }
    int max = (1 << bits) - 1;
    long base = b * blockBytes(bits, cols);
    for (int r = 0; r < count; r++) {
      for (int g = 0; g < groups; g++) {
        int at = (b * groups + g) * BLOCK + r;
        float s = scales[r * groups + g];
        this.scales[at] = s;
        float term = s * (offset() - zeros[r * groups + g]);
        if (offsets != null) {
          offsets[at] = term;
        } else if (term != 0) {
          throw new IllegalArgumentException("row " + (b * BLOCK + r) + " has a zero point but the matrix has no offsets");
        }
      }
      for (int k = 0; k < cols; k++) {
        int u = stored[r * cols + k];
        if (u < 0 || u > max) throw new IllegalArgumentException("stored value " + u + " is not " + bits + " bits");
        if (bits == 8) {
          data[(int) (base + (k / 4) * 64 + r * 4 + (k & 3))] = (byte) u;
        } else {
          int at = (int) (base + (k / 8) * 64 + r * 4 + (k & 3));
          int shift = (k & 4) == 0 ? 0 : 4;
          data[at] = (byte) ((data[at] & ~(0xF << shift)) | (u << shift));
        }
      }
    }
    for (int r = count; r < BLOCK; r++) { // padding rows: weight 0 (stored = offset, scale 0)
      for (int k = 0; k < cols; k++) {
        if (bits == 8) {
          data[(int) (base + (k / 4) * 64 + r * 4 + (k & 3))] = (byte) offset();
        } else {
          int at = (int) (base + (k / 8) * 64 + r * 4 + (k & 3));
          data[at] = (byte) ((data[at] & ~(0xF << ((k & 4) == 0 ? 0 : 4))) | (offset() << ((k & 4) == 0 ? 0 : 4)));
        }
      }
    }
  }

  /**
   * Quantizes rows [16 b, 16 b + count) from {@code w} (count rows of cols floats, row-major) into
   * block b; count is 16 except for the last block.
   */
  public void pack(int b, float[] w, int count) {
    if (b < 0 || b >= blocks(rows) || count != Math.min(BLOCK, rows - b * BLOCK) || w.length < count * cols) {
      throw new IllegalArgumentException("block " + b + " of " + blocks(rows) + " with " + count + " rows");
    }
    int groups = cols / group;
    long base = b * blockBytes(bits, cols);
    for (int r = 0; r < BLOCK; r++) {
      for (int g = 0; g < groups; g++) {
        float scale = 0;
        if (r < count) {
          int from = r * cols + g * group;
          float peak = 0; // the value of largest magnitude, with its sign
          for (int k = from; k < from + group; k++) {
            if (Math.abs(w[k]) > Math.abs(peak)) peak = w[k];
          }
          scale = bits == 8 ? Math.abs(peak) / 127f : peak / -8f;
        }
        scales[(b * groups + g) * BLOCK + r] = scale;
        float inv = scale == 0 ? 0 : 1f / scale;
        for (int k = g * group; k < (g + 1) * group; k++) {
          int q = r < count ? (int) Math.rint(w[r * cols + k] * inv) : 0;
          if (bits == 8) {
            q = Math.max(-127, Math.min(127, q));
            data[(int) (base + (k / 4) * 64 + r * 4 + (k & 3))] = (byte) (q + 128);
          } else {
            q = Math.max(-8, Math.min(7, q));
            int at = (int) (base + (k / 8) * 64 + r * 4 + (k & 3));
            int shift = (k & 4) == 0 ? 0 : 4;
            data[at] = (byte) ((data[at] & ~(0xF << shift)) | ((q + 8) << shift));
          }
        }
      }
    }
  }

  /** The stored weight of row r, column k, offset by 128 (int8) or 8 (int4): unsigned. */
  int stored(int r, int k) {
    long base = (r / BLOCK) * blockBytes(bits, cols);
    int lane = r % BLOCK;
    if (bits == 8) return data[(int) (base + (k / 4) * 64 + lane * 4 + (k & 3))] & 0xFF;
    int v = data[(int) (base + (k / 8) * 64 + lane * 4 + (k & 3))] & 0xFF;
    return (k & 4) == 0 ? v & 0xF : v >>> 4;
  }

  /** The quantized integer of row r, column k. */
  public int quantized(int r, int k) { return stored(r, k) - offset(); }

  /** The scale of row r's group g. */
  public float scale(int r, int g) { return scales[((r / BLOCK) * groups() + g) * BLOCK + r % BLOCK]; }

  /** The zero points' term of row r's group g (0 without zero points). */
  public float offset(int r, int g) {
    return offsets == null ? 0 : offsets[((r / BLOCK) * groups() + g) * BLOCK + r % BLOCK];
  }

  /** The weight of packed column k as the products see it: quantized integer times its group's scale, plus the offset. */
  public float dequantized(int r, int k) { return quantized(r, k) * scale(r, k / group) + offset(r, k / group); }

  /** The weight of row r at input column k (the checkpoint's column order). */
  public float weight(int r, int k) {
    return dequantized(r, inverse == null ? k : inverse[k]);
  }

  int offset() { return bits == 8 ? 128 : 8; }
}
