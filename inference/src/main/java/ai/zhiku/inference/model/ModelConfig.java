package ai.zhiku.inference.model;

/**
 * The family-neutral shape of a decoder, derived from a family's own config record.
 *
 * @param vocabSize rows of the embedding and output matrices (ChatGLM2: padded_vocab_size)
 * @param contextLength the longest sequence the model serves (prompt + completion)
 */
public record ModelConfig(
    String family,
    int hiddenSize,
    int numLayers,
    int numHeads,
    int numKvHeads,
    int headDim,
    int ffnSize,
    int vocabSize,
    int contextLength,
    float normEps,
    boolean qkvBias,
    Rope rope) {

  public ModelConfig {
    if (numHeads % numKvHeads != 0) {
      throw new IllegalArgumentException("attention heads " + numHeads + " are not a multiple of key/value heads " + numKvHeads);
    }
  }

  /** Query heads per key/value head. */
  public int groupSize() { return numHeads / numKvHeads; }

  /** Rotary position embedding variants. */
  public sealed interface Rope permits Rope.Interleaved, Rope.RotateHalf {
    /**
     * ChatGLM2: the first {@code rotaryDims} dims of each head rotate in pairs (x[2i], x[2i+1]).
     */
    record Interleaved(int rotaryDims, double base) implements Rope {}

    /**
     * Llama/InternLM2: pairs (i, i + headDim/2) over the whole head; {@code scaling} "none",
     * "linear" or "dynamic" (NTK) with {@code factor}, relative to {@code maxPositions}.
     */
    record RotateHalf(double base, String scaling, double factor, int maxPositions) implements Rope {}
  }
}
