package ai.zhiku.inference.tokenizer;

import ai.zhiku.inference.weights.CheckpointException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Qwen2's tokenizer (Qwen2Tokenizer / its tokenizer.json): text is NFC-normalised, added tokens
 * are split out whole (special or not), the rest is cut by Qwen2's pre-tokenizer regex (every
 * digit on its own, a run of spaces leaves its last space to the next word) and each piece is
 * byte-level BPE. Nothing is prepended. Decoding maps the byte characters back to bytes and decodes
 * UTF-8 replacing invalid sequences with U+FFFD; added tokens are joined without spaces, and
 * {@code skipSpecialTokens} drops only those marked special.
 */
public final class Qwen2Tokenizer implements Tokenizer {
  static final Pattern PRE_TOKENIZER = Pattern.compile(
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      Pattern.UNICODE_CHARACTER_CLASS);

  private final ByteLevelBpe bpe;
  private final String[] tokens; // id -> byte-level string (vocabulary) or added content
  private final Map<String, Integer> added; // content -> id, longest first
  private final boolean[] special;
  private final boolean[] isAdded;
  private final int vocabSize;

  Qwen2Tokenizer(Map<String, Integer> vocab, List<String[]> merges, Map<Integer, AddedToken> addedTokens, int vocabSize) {
    this.bpe = new ByteLevelBpe(vocab, merges);
    int max = Math.max(vocabSize, 1);
    for (int id : vocab.values()) max = Math.max(max, id + 1);
    for (int id : addedTokens.keySet()) max = Math.max(max, id + 1);
    tokens = new String[max];
    special = new boolean[max];
    isAdded = new boolean[max];
    vocab.forEach((t, id) -> tokens[id] = t);
    Map<String, Integer> byContent = new LinkedHashMap<>();
    addedTokens.entrySet().stream()
        .sorted((a, b) -> b.getValue().content().length() - a.getValue().content().length())
        .forEach(e -> byContent.put(e.getValue().content(), e.getKey()));
    addedTokens.forEach((id, t) -> {
      tokens[id] = t.content();
      special[id] = t.special();
      isAdded[id] = true;
    });
    this.added = byContent;
    this.vocabSize = vocabSize;
  }

  /** An added token: its text and whether decode(skip_special_tokens=True) drops it. */
  public record AddedToken(String content, boolean special) {}

  /**
   * Reads tokenizer.json when the directory has one, else vocab.json + merges.txt; added tokens
   * from tokenizer_config.json's added_tokens_decoder (or tokenizer.json's added_tokens).
   */
  public static Qwen2Tokenizer load(Path dir, int vocabSize) {
    ObjectMapper json = new ObjectMapper();
    try {
      Map<String, Integer> vocab = new HashMap<>();
      List<String[]> merges = new ArrayList<>();
      Map<Integer, AddedToken> addedTokens = new LinkedHashMap<>();
      Path tj = dir.resolve("tokenizer.json");
      if (Files.isRegularFile(tj)) {
        JsonNode root = json.readTree(tj.toFile());
        JsonNode model = root.path("model");
        if (!model.path("type").asText("BPE").equals("BPE")) {
          throw new CheckpointException("tokenizer.json: model type " + model.path("type").asText() + " is not BPE");
        }
        model.path("vocab").fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
        for (JsonNode m : model.path("merges")) {
          merges.add(m.isArray() ? new String[] {m.get(0).asText(), m.get(1).asText()} : splitMerge(m.asText()));
        }
        for (JsonNode a : root.path("added_tokens")) {
          addedTokens.put(a.get("id").asInt(), new AddedToken(a.get("content").asText(), a.path("special").asBoolean()));
        }
      } else {
        Path vj = dir.resolve("vocab.json");
        Path mt = dir.resolve("merges.txt");
        if (!Files.isRegularFile(vj) || !Files.isRegularFile(mt)) {
          throw new CheckpointException("the checkpoint has neither tokenizer.json nor vocab.json + merges.txt");
        }
        json.readTree(vj.toFile()).fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
        for (String line : Files.readAllLines(mt, StandardCharsets.UTF_8)) {
          if (line.isEmpty() || line.startsWith("#version")) continue;
          merges.add(splitMerge(line));
        }
      }
      Path tc = dir.resolve("tokenizer_config.json");
      if (Files.isRegularFile(tc)) {
        json.readTree(tc.toFile()).path("added_tokens_decoder").fields().forEachRemaining(e -> addedTokens.put(
            Integer.parseInt(e.getKey()), new AddedToken(e.getValue().path("content").asText(), e.getValue().path("special").asBoolean())));
      }
      return new Qwen2Tokenizer(vocab, merges, addedTokens, vocabSize);
    } catch (IOException e) {
      throw new CheckpointException("cannot read the tokenizer files: " + e.getMessage(), e);
    }
  }

  private static String[] splitMerge(String line) {
    int sp = line.indexOf(' ');
    if (sp <= 0) throw new CheckpointException("merges: bad line '" + line + "'");
    return new String[] {line.substring(0, sp), line.substring(sp + 1)};
  }

  /** The id of an added token, or null. */
  public Integer addedId(String content) { return added.get(content); }

  private interface Visitor {
    void text(String chunk);

    void added(int id);
  }

  private void split(String text, Visitor v) {
    String s = Normalizer.normalize(text, Normalizer.Form.NFC);
    int pos = 0;
    int chunk = 0;
    while (pos < s.length()) {
      char c = s.charAt(pos);
      String hit = null;
      if (c == '<') {
        for (String a : added.keySet()) {
          if (s.startsWith(a, pos)) {
            hit = a;
            break;
          }
        }
      }
      if (hit == null) {
        pos++;
        continue;
      }
      if (pos > chunk) v.text(s.substring(chunk, pos));
      v.added(added.get(hit));
      pos += hit.length();
      chunk = pos;
    }
    if (chunk < s.length()) v.text(s.substring(chunk));
  }

  private void pieces(String chunk, java.util.function.Consumer<String> out) {
    Matcher m = PRE_TOKENIZER.matcher(chunk);
    while (m.find()) out.accept(m.group());
  }

  @Override
  public int[] encode(String text, boolean addSpecialTokens) {
    int[][] buf = {new int[64]};
    int[] n = {0};
    java.util.function.IntConsumer add = id -> {
      if (n[0] == buf[0].length) buf[0] = java.util.Arrays.copyOf(buf[0], n[0] * 2);
      buf[0][n[0]++] = id;
    };
    split(text, new Visitor() {
      public void text(String chunk) { pieces(chunk, p -> { for (int id : bpe.encode(p)) add.accept(id); }); }

      public void added(int id) { add.accept(id); }
    });
    return java.util.Arrays.copyOf(buf[0], n[0]);
  }

  @Override
  public List<String> tokenize(String text) {
    List<String> out = new ArrayList<>();
    split(text, new Visitor() {
      public void text(String chunk) { pieces(chunk, p -> { for (int id : bpe.encode(p)) out.add(tokens[id]); }); }

      public void added(int id) { out.add(tokens[id]); }
    });
    return out;
  }

  @Override
  public String decode(int[] ids, boolean skipSpecialTokens) {
    StringBuilder out = new StringBuilder();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (int id : ids) {
      if (id < 0 || id >= tokens.length || tokens[id] == null) continue; // padding rows of the embedding
      if (isAdded[id]) {
        flush(out, bytes);
        if (!(skipSpecialTokens && special[id])) out.append(tokens[id]);
        continue;
      }
      String t = tokens[id];
      for (int i = 0; i < t.length(); i++) {
        char c = t.charAt(i);
        int b = c < ByteLevelBpe.CHAR_TO_BYTE.length ? ByteLevelBpe.CHAR_TO_BYTE[c] : -1;
        if (b >= 0) bytes.write(b);
      }
    }
    flush(out, bytes);
    return out.toString();
  }

  private static void flush(StringBuilder out, ByteArrayOutputStream bytes) {
    if (bytes.size() == 0) return;
    out.append(new String(bytes.toByteArray(), StandardCharsets.UTF_8)); // invalid sequences become U+FFFD
    bytes.reset();
  }

  @Override
  public int vocabSize() { return vocabSize; }

  /** Added tokens that are not special (Qwen2.5's {@code <tool_call>}) are their text; special ones are not text. */
  @Override
  public byte[] tokenBytes(int id) {
    if (id < 0 || id >= tokens.length || tokens[id] == null) return null;
    if (isAdded[id]) return special[id] ? null : tokens[id].getBytes(java.nio.charset.StandardCharsets.UTF_8);
    String t = tokens[id];
    byte[] out = new byte[t.length()];
    for (int i = 0; i < t.length(); i++) {
      char c = t.charAt(i);
      int b = c < ByteLevelBpe.CHAR_TO_BYTE.length ? ByteLevelBpe.CHAR_TO_BYTE[c] : -1;
      if (b < 0) return null;
      out[i] = (byte) b;
    }
    return out;
  }
}
