package ai.zhiku.embeddings;

/**
 * Text to model input ids for an encoder, with the model's special tokens around a single
 * sequence ({@code [CLS] … [SEP]} for BERT). Thread-safe.
 */
public interface EmbeddingTokenizer extends AutoCloseable {

  /** All ids of {@code text} with special tokens, never truncated. */
  long[] encode(String text);

  /**
   * Ids of {@code text} with special tokens, cut to at most {@code maxTokens} the way the Hugging
   * Face tokenizer truncates: text tokens are dropped from the end, the special tokens stay.
   */
  long[] encodeTruncated(String text, int maxTokens);

  /** Ids of {@code text} without special tokens ("" gives none). */
  long[] encodeWithoutSpecials(String text);

  /** Raw token ids (no special tokens) wrapped with the special tokens of a single sequence. */
  long[] wrap(int[] tokenIds);

  /** Number of special tokens {@link #wrap} adds. */
  int specialTokenCount();

  /** Ids are valid in {@code [0, vocabSize)}. */
  int vocabSize();

  /** The token strings of {@code ids} (for diagnostics and tests). */
  String[] tokens(long[] ids);

  @Override
  void close();
}
