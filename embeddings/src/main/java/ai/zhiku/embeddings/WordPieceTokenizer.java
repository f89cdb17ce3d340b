package ai.zhiku.embeddings;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * BERT's tokenizer in Java, for checkpoints that ship {@code vocab.txt} but no
 * {@code tokenizer.json}. It follows the Hugging Face {@code tokenizers} pipeline for BERT:
 * special-token literals split out first; then the BertNormalizer (delete control and format
 * characters, map every White_Space character to a space, surround CJK ideographs with spaces,
 * optionally strip accents and lowercase); the BertPreTokenizer (split on whitespace, isolate
 * punctuation); WordPiece (greedy longest match, {@code ##} continuations, a word longer than
 * 100 characters or with no match becomes {@code [UNK]}); and {@code [CLS] … [SEP]} around it.
 *
 * <p>{@code vocab.txt} is split on {@code \n} only: BERT vocabularies contain U+2028 as a token.
 */
final class WordPieceTokenizer implements EmbeddingTokenizer {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_WORD_CHARS = 100;

  private final Map<String, Integer> vocab;
  private final String[] tokens;
  private final boolean lowercase;
  private final boolean stripAccents;
  private final boolean chineseChars;
  private final int unk;
  private final int cls;
  private final int sep;
  /** Special-token literals matched in raw text, longest first. */
  private final List<String> specials;

  WordPieceTokenizer(List<String> vocabLines, boolean lowercase, boolean stripAccents, boolean chineseChars, Map<String, String> specialTokens) {
    this.tokens = vocabLines.toArray(new String[0]);
    this.vocab = new HashMap<>(tokens.length * 2);
    for (int i = 0; i < tokens.length; i++) {
      vocab.putIfAbsent(tokens[i], i);
    }
    this.lowercase = lowercase;
    this.stripAccents = stripAccents;
    this.chineseChars = chineseChars;
    this.unk = require(specialTokens.get("unk_token"));
    this.cls = require(specialTokens.get("cls_token"));
    this.sep = require(specialTokens.get("sep_token"));
    List<String> literal = new ArrayList<>();
    for (String s : specialTokens.values()) {
      if (vocab.containsKey(s) && !literal.contains(s)) {
        literal.add(s);
      }
    }
    literal.sort((a, b) -> b.length() - a.length());
    this.specials = List.copyOf(literal);
  }

  private int require(String token) {
    Integer id = vocab.get(token);
    if (id == null) {
      throw new IllegalArgumentException("vocab.txt has no " + token + " token");
    }
    return id;
  }

  /**
   * Reads {@code vocab.txt} and {@code tokenizer_config.json} / {@code special_tokens_map.json}
   * of a model directory. Defaults are those of Hugging Face's BertTokenizer: lower-casing on,
   * accents stripped when lower-casing, CJK characters split.
   */
  static WordPieceTokenizer read(Path dir) throws IOException {
    String text = Files.readString(dir.resolve("vocab.txt"), StandardCharsets.UTF_8);
    List<String> lines = new ArrayList<>(Arrays.asList(text.split("\n", -1)));
    if (!lines.isEmpty() && lines.get(lines.size() - 1).isEmpty()) {
      lines.remove(lines.size() - 1);
    }
    JsonNode config = JSON.createObjectNode();
    Path tokenizerConfig = dir.resolve("tokenizer_config.json");
    if (Files.isRegularFile(tokenizerConfig)) {
      config = JSON.readTree(tokenizerConfig.toFile());
    }
    boolean lower = config.path("do_lower_case").asBoolean(true);
    JsonNode strip = config.path("strip_accents");
    boolean stripAccents = strip.isBoolean() ? strip.asBoolean() : lower;
    boolean chinese = config.path("tokenize_chinese_chars").asBoolean(true);
    Map<String, String> specials = new HashMap<>();
    specials.put("unk_token", "[UNK]");
    specials.put("sep_token", "[SEP]");
    specials.put("pad_token", "[PAD]");
    specials.put("cls_token", "[CLS]");
    specials.put("mask_token", "[MASK]");
    Path map = dir.resolve("special_tokens_map.json");
    for (JsonNode source : new JsonNode[] {config, Files.isRegularFile(map) ? JSON.readTree(map.toFile()) : JSON.createObjectNode()}) {
      for (String key : List.copyOf(specials.keySet())) {
        JsonNode v = source.path(key);
        String content = v.isTextual() ? v.asText() : v.path("content").asText(null);
        if (content != null) {
          specials.put(key, content);
        }
      }
    }
    return new WordPieceTokenizer(lines, lower, stripAccents, chinese, specials);
  }

  @Override
  public long[] encode(String text) {
    List<Integer> body = pieces(text);
    long[] out = new long[body.size() + 2];
    out[0] = cls;
    for (int i = 0; i < body.size(); i++) {
      out[i + 1] = body.get(i);
    }
    out[out.length - 1] = sep;
    return out;
  }

  @Override
  public long[] encodeWithoutSpecials(String text) {
    return pieces(text).stream().mapToLong(Integer::longValue).toArray();
  }

  @Override
  public long[] encodeTruncated(String text, int maxTokens) {
    long[] all = encode(text);
    if (all.length <= maxTokens) {
      return all;
    }
    long[] out = Arrays.copyOf(all, maxTokens);
    out[maxTokens - 1] = sep;
    return out;
  }

  @Override
  public long[] wrap(int[] tokenIds) {
    long[] out = new long[tokenIds.length + 2];
    out[0] = cls;
    for (int i = 0; i < tokenIds.length; i++) {
      out[i + 1] = tokenIds[i];
    }
    out[out.length - 1] = sep;
    return out;
  }

  @Override
  public int specialTokenCount() {
    return 2;
  }

  @Override
  public int vocabSize() {
    return tokens.length;
  }

  @Override
  public String[] tokens(long[] ids) {
    String[] out = new String[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = ids[i] >= 0 && ids[i] < tokens.length ? tokens[(int) ids[i]] : "";
    }
    return out;
  }

  @Override
  public void close() {}

  /** Ids of the text without [CLS]/[SEP]. */
  private List<Integer> pieces(String text) {
    List<Integer> out = new ArrayList<>();
    int start = 0;
    int i = 0;
    while (i < text.length()) {
      String special = specialAt(text, i);
      if (special != null) {
        words(text.substring(start, i), out);
        out.add(vocab.get(special));
        i += special.length();
        start = i;
      } else {
        i++;
      }
    }
    words(text.substring(start), out);
    return out;
  }

  private String specialAt(String text, int at) {
    for (String s : specials) {
      if (text.startsWith(s, at)) {
        return s;
      }
    }
    return null;
  }

  private void words(String segment, List<Integer> out) {
    if (segment.isEmpty()) {
      return;
    }
    String normalized = normalize(segment);
    StringBuilder word = new StringBuilder();
    for (int i = 0; i < normalized.length(); ) {
      int cp = normalized.codePointAt(i);
      i += Character.charCount(cp);
      if (isWhitespace(cp)) {
        flush(word, out);
      } else if (isPunctuation(cp)) {
        flush(word, out);
        word.appendCodePoint(cp);
        flush(word, out);
      } else {
        word.appendCodePoint(cp);
      }
    }
    flush(word, out);
  }

  private void flush(StringBuilder word, List<Integer> out) {
    if (word.isEmpty()) {
      return;
    }
    wordPiece(word.toString(), out);
    word.setLength(0);
  }

  private void wordPiece(String word, List<Integer> out) {
    int[] cps = word.codePoints().toArray();
    if (cps.length > MAX_WORD_CHARS) {
      out.add(unk);
      return;
    }
    List<Integer> ids = new ArrayList<>();
    int start = 0;
    while (start < cps.length) {
      int end = cps.length;
      Integer found = null;
      while (start < end) {
        String piece = new String(cps, start, end - start);
        if (start > 0) {
          piece = "##" + piece;
        }
        found = vocab.get(piece);
        if (found != null) {
          break;
        }
        end--;
      }
      if (found == null) {
        out.add(unk);
        return;
      }
      ids.add(found);
      start = end;
    }
    out.addAll(ids);
  }

  private String normalize(String text) {
    StringBuilder sb = new StringBuilder(text.length() + 8);
    for (int i = 0; i < text.length(); ) {
      int cp = text.codePointAt(i);
      i += Character.charCount(cp);
      if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
        continue;
      }
      if (isWhitespace(cp)) {
        sb.append(' ');
      } else if (chineseChars && isChinese(cp)) {
        sb.append(' ').appendCodePoint(cp).append(' ');
      } else {
        sb.appendCodePoint(cp);
      }
    }
    String s = sb.toString();
    if (stripAccents) {
      s = Normalizer.normalize(s, Normalizer.Form.NFD);
      StringBuilder kept = new StringBuilder(s.length());
      s.codePoints().filter(cp -> Character.getType(cp) != Character.NON_SPACING_MARK).forEach(kept::appendCodePoint);
      s = kept.toString();
    }
    if (lowercase) {
      s = s.toLowerCase(Locale.ROOT);
    }
    return s;
  }

  /** Cc, Cf and Co, except tab, newline and carriage return (which are whitespace). */
  static boolean isControl(int cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') {
      return false;
    }
    int type = Character.getType(cp);
    return type == Character.CONTROL || type == Character.FORMAT || type == Character.PRIVATE_USE;
  }

  /** The Unicode White_Space property. */
  static boolean isWhitespace(int cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || Character.isSpaceChar(cp);
  }

  /** ASCII punctuation (symbols included) or a Unicode P* character. */
  static boolean isPunctuation(int cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
      return true;
    }
    return switch (Character.getType(cp)) {
      case Character.CONNECTOR_PUNCTUATION,
          Character.DASH_PUNCTUATION,
          Character.START_PUNCTUATION,
          Character.END_PUNCTUATION,
          Character.INITIAL_QUOTE_PUNCTUATION,
          Character.FINAL_QUOTE_PUNCTUATION,
          Character.OTHER_PUNCTUATION -> true;
      default -> false;
    };
  }

  /** The CJK ideograph blocks BERT surrounds with spaces. */
  static boolean isChinese(int cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF)
        || (cp >= 0x3400 && cp <= 0x4DBF)
        || (cp >= 0x20000 && cp <= 0x2A6DF)
        || (cp >= 0x2A700 && cp <= 0x2B73F)
        || (cp >= 0x2B740 && cp <= 0x2B81F)
        || (cp >= 0x2B920 && cp <= 0x2CEAF)
        || (cp >= 0xF900 && cp <= 0xFAFF)
        || (cp >= 0x2F800 && cp <= 0x2FA1F);
  }
}
