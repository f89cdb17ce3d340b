package ai.zhiku.embeddings;

/**
 * A transformer encoder: input ids in, last hidden states or pooled vectors out. Called from one
 * thread at a time (the engine's inference thread). Native memory of each call is freed before
 * the call returns.
 */
interface Encoder extends AutoCloseable {

  /** Width of the hidden states. */
  int hiddenSize();

  /**
   * Runs a batch and pools each row. Rows may differ in length: the encoder right-pads them with
   * id 0 and masks the padding out.
   *
   * @return {@code [rows][hiddenSize]}, not normalised
   */
  float[][] encode(long[][] rows, SentencePooling pooling);

  /** The last hidden state of one sequence, {@code [ids.length][hiddenSize]} laid out flat. */
  float[] lastHiddenState(long[] ids);

  /** Native arrays the encoder holds between calls (weights); must not grow across calls. */
  int residentArrays();

  @Override
  void close();

  /** Packs right-padded ids and the attention mask; returns {ids, mask} flat [rows * seq]. */
  static long[][] pad(long[][] rows, int seq) {
    long[] ids = new long[rows.length * seq];
    long[] mask = new long[rows.length * seq];
    for (int r = 0; r < rows.length; r++) {
      System.arraycopy(rows[r], 0, ids, r * seq, rows[r].length);
      java.util.Arrays.fill(mask, r * seq, r * seq + rows[r].length, 1L);
    }
    return new long[][] {ids, mask};
  }

  static int longest(long[][] rows) {
    int seq = 1;
    for (long[] row : rows) {
      seq = Math.max(seq, row.length);
    }
    return seq;
  }
}
