package ai.zhiku.inference.tokenizer;

import java.util.List;

/** A model's tokenizer, with the semantics of its official (Hugging Face slow) implementation. */
public interface Tokenizer {
  /** Token ids of {@code text}; with {@code addSpecialTokens} the model's prefix is prepended. */
  int[] encode(String text, boolean addSpecialTokens);

  /** The pieces {@code tokenize(text)} gives (special tokens whole where the model treats them so). */
  List<String> tokenize(String text);

  /** Text of the ids, as the official {@code decode} gives it. */
  String decode(int[] ids, boolean skipSpecialTokens);

  /**
   * How many trailing characters of {@code decoded} (text decoded so far) a later token could
   * still change; a streaming decoder holds them back.
   */
  default int unstableSuffix(CharSequence decoded) { return 0; }

  /**
   * The UTF-8 bytes id adds to generated text (a leading {@code ▁} as a space; a byte-fallback
   * piece as its one byte), or null for an id that is not text: special and control tokens, padding
   * rows. Constrained decoding walks these bytes; logprobs report them.
   */
  byte[] tokenBytes(int id);

  /** Number of ids the model's embedding covers (the padded vocabulary). */
  int vocabSize();
}
