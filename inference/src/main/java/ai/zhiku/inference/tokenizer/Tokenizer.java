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

  /** Number of ids the model's embedding covers (the padded vocabulary). */
  int vocabSize();
}
