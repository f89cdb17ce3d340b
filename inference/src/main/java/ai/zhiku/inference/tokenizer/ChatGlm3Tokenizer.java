package ai.zhiku.inference.tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * ChatGLM3's tokenizer (its {@code tokenization_chatglm.py}): the SentencePiece model of ChatGLM2
 * followed by nine ids: [MASK] [gMASK] [sMASK] sop eop, then the role tokens {@code <|system|>}
 * {@code <|user|>} {@code <|assistant|>} {@code <|observation|>}. Inputs start with [gMASK] sop.
 * Role tokens typed in text are ordinary text unless {@link #encodeWithRoleTokens} is used (the
 * official {@code encode_special_tokens=True}). Unlike ChatGLM2, the special ids decode to their
 * text: pieces go through one SentencePiece DecodePieces, so only a leading {@code ▁} of the very
 * first piece is dropped.
 */
public final class ChatGlm3Tokenizer implements Tokenizer {
  public static final List<String> SPECIAL = List.of("[MASK]", "[gMASK]", "[sMASK]", "sop", "eop",
      "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>");
  private static final Pattern ROLE = Pattern.compile("<\\|system\\|>|<\\|user\\|>|<\\|assistant\\|>|<\\|observation\\|>");

  private final SentencePieceModel sp;
  private final int vocabSize;

  public ChatGlm3Tokenizer(SentencePieceModel sp, int paddedVocabSize) {
    this.sp = sp;
    this.vocabSize = paddedVocabSize;
  }

  public static ChatGlm3Tokenizer load(Path dir, int paddedVocabSize) {
    return new ChatGlm3Tokenizer(SentencePieceModel.load(dir.resolve("tokenizer.model")), paddedVocabSize);
  }

  /** The id of one of {@link #SPECIAL}. */
  public int specialId(String token) {
    int i = SPECIAL.indexOf(token);
    if (i < 0) throw new IllegalArgumentException(token);
    return sp.size() + i;
  }

  /** The id of a role's token: system, user, assistant or observation. */
  public int roleId(String role) {
    return specialId("<|" + role + "|>");
  }

  /** SentencePiece ids of {@code text} alone (one call, with its dummy prefix), no special ids. */
  public int[] encodePieces(String text) {
    return sp.encode(text);
  }

  @Override
  public int[] encode(String text, boolean addSpecialTokens) {
    int[] ids = sp.encode(text);
    return addSpecialTokens ? withPrefix(ids) : ids;
  }

  /** [gMASK] sop, then {@code ids}. */
  public int[] withPrefix(int[] ids) {
    int[] out = new int[ids.length + 2];
    out[0] = specialId("[gMASK]");
    out[1] = specialId("sop");
    System.arraycopy(ids, 0, out, 2, ids.length);
    return out;
  }

  /** {@code encode_special_tokens=True}: typed role tokens become their ids, the text between them is encoded on its own. */
  public int[] encodeWithRoleTokens(String text) {
    List<Integer> ids = new ArrayList<>();
    Matcher m = ROLE.matcher(text);
    int last = 0;
    while (m.find()) {
      if (m.start() > last) for (int id : sp.encode(text.substring(last, m.start()))) ids.add(id);
      ids.add(specialId(m.group()));
      last = m.end();
    }
    if (last < text.length()) for (int id : sp.encode(text.substring(last))) ids.add(id);
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }

  @Override
  public List<String> tokenize(String text) {
    List<String> out = new ArrayList<>();
    for (int id : sp.encode(text)) out.add(sp.piece(id));
    return out;
  }

  private boolean isSpecial(int id) {
    return id >= sp.size() && id < sp.size() + SPECIAL.size();
  }

  /**
   * With {@code skipSpecialTokens} the nine added ids give nothing; ids past them (padding rows of
   * the embedding) and {@code <s>}/{@code </s>}/{@code <unk>} always give nothing.
   */
  @Override
  public String decode(int[] ids, boolean skipSpecialTokens) {
    StringBuilder out = new StringBuilder();
    int[] run = new int[ids.length];
    int n = 0;
    for (int id : ids) {
      if (!isSpecial(id)) {
        run[n++] = id;
        continue;
      }
      if (skipSpecialTokens) continue;
      flush(out, run, n);
      n = 0;
      out.append(SPECIAL.get(id - sp.size()));
    }
    flush(out, run, n);
    return out.toString();
  }

  private void flush(StringBuilder out, int[] run, int n) {
    if (n == 0) return;
    out.append(sp.decode(Arrays.copyOf(run, n), id -> id >= sp.size() || id < 0 || id <= 2, out.isEmpty()));
  }

  @Override
  public int vocabSize() { return vocabSize; }

  @Override
  public byte[] tokenBytes(int id) {
    return isSpecial(id) || id <= 2 ? null : sp.pieceBytes(id);
  }
}
