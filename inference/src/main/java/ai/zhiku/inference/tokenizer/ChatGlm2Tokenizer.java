package ai.zhiku.inference.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * ChatGLM2's tokenizer: SentencePiece plus five ids after the model's pieces ([MASK], [gMASK],
 * [sMASK], sop, eop). Inputs start with [gMASK] sop. Special strings typed in the text are
 * ordinary text. Special ids, {@code <s>}, {@code </s>}, {@code <unk>} and the padding ids beyond
 * the tokenizer decode to nothing.
 */
public final class ChatGlm2Tokenizer implements Tokenizer {
  private final SentencePieceModel sp;
  private final int gmask;
  private final int sop;
  private final int vocabSize;

  public ChatGlm2Tokenizer(SentencePieceModel sp, int paddedVocabSize) {
    this.sp = sp;
    this.gmask = sp.size() + 1;
    this.sop = sp.size() + 3;
    this.vocabSize = paddedVocabSize;
  }

  /** Reads tokenizer.model in {@code dir}. */
  public static ChatGlm2Tokenizer load(java.nio.file.Path dir, int paddedVocabSize) {
    return new ChatGlm2Tokenizer(SentencePieceModel.load(dir.resolve("tokenizer.model")), paddedVocabSize);
  }

  public int gmaskId() { return gmask; }

  public int sopId() { return sop; }

  /** [MASK], [gMASK], [sMASK], sop, eop in that order. */
  public int specialId(String token) {
    return switch (token) {
      case "[MASK]" -> sp.size();
      case "[gMASK]" -> gmask;
      case "[sMASK]" -> sp.size() + 2;
      case "sop" -> sop;
      case "eop" -> sp.size() + 4;
      default -> throw new IllegalArgumentException(token);
    };
  }

  @Override
  public int[] encode(String text, boolean addSpecialTokens) {
    int[] ids = sp.encode(text);
    if (!addSpecialTokens) return ids;
    int[] out = new int[ids.length + 2];
    out[0] = gmask;
    out[1] = sop;
    System.arraycopy(ids, 0, out, 2, ids.length);
    return out;
  }

  @Override
  public List<String> tokenize(String text) {
    List<String> out = new ArrayList<>();
    for (int id : sp.encode(text)) out.add(sp.piece(id));
    return out;
  }

  private boolean decodesToNothing(int id) {
    return id >= sp.size() || id < 0 || id <= 2;
  }

  @Override
  public String decode(int[] ids, boolean skipSpecialTokens) {
    return sp.decode(ids, this::decodesToNothing);
  }

  @Override
  public byte[] tokenBytes(int id) {
    return decodesToNothing(id) ? null : sp.pieceBytes(id);
  }

  @Override
  public int vocabSize() { return vocabSize; }
}
