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

  private PackedWeights(int bits, int rows, int cols, int group) {
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
  }

  /** An empty matrix to be filled block by block with {@link #pack}. */
  public static PackedWeights allocate(int bits, int rows, int cols, int group) {
    return new PackedWeights(bits, rows, cols, group);
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

  /** Bytes one product reads: packed weights and scales. */
  public long bytes() { return data.length + 4L * scales.length; }

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

  /** The weight as the products see it: quantized integer times its group's scale. */
  public float dequantized(int r, int k) { return quantized(r, k) * scale(r, k / group); }

  int offset() { return bits == 8 ? 128 : 8; }
}
