package ai.zhiku.inference.tokenizer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * InternLM2's slow tokenizer. Added tokens ({@code <unk> <s> </s>} and the six
 * {@code <|...|>} tokens) are split out of the text before SentencePiece and kept whole; inputs
 * start with {@code <s>}. Decoding follows its {@code convert_tokens_to_string}: a run of
 * ordinary tokens that a special token ends gets a space in front, and the classic
 * "clean up tokenization" replacements are applied.
 */
public final class InternLm2Tokenizer implements Tokenizer {
  private static final String[][] CLEANUP = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};

  private final SentencePieceModel sp;
  private final Map<String, Integer> special; // content -> id, longest first
  private final Map<Integer, String> specialById = new LinkedHashMap<>();
  private final int bos;
  private final int vocabSize;

  /** {@code special}: every added token (all are special for InternLM2), content to id. */
  public InternLm2Tokenizer(SentencePieceModel sp, Map<String, Integer> special, int vocabSize) {
    this.sp = sp;
    Map<String, Integer> sorted = new LinkedHashMap<>();
    special.entrySet().stream()
        .sorted((a, b) -> b.getKey().length() - a.getKey().length())
        .forEach(e -> sorted.put(e.getKey(), e.getValue()));
    this.special = sorted;
    special.forEach((k, v) -> specialById.put(v, k));
    this.bos = special.getOrDefault("<s>", 1);
    this.vocabSize = vocabSize;
  }

  /**
   * How many trailing characters of decoded text a later token could still rewrite through the
   * clean-up replacements (a suffix that is a proper prefix of one of their patterns).
   */
  @Override
  public int unstableSuffix(CharSequence text) {
    for (int k = Math.min(3, text.length()); k > 0; k--) {
      String suffix = text.subSequence(text.length() - k, text.length()).toString();
      for (String[] c : CLEANUP) {
        if (c[0].length() > k && c[0].startsWith(suffix)) return k;
      }
    }
    return 0;
  }

  /** Reads tokenizer.model and the added tokens of tokenizer_config.json in {@code dir}. */
  public static InternLm2Tokenizer load(java.nio.file.Path dir, int vocabSize) {
    SentencePieceModel sp = SentencePieceModel.load(dir.resolve("tokenizer.model"));
    Map<String, Integer> special = new LinkedHashMap<>();
    java.nio.file.Path cfg = dir.resolve("tokenizer_config.json");
    if (java.nio.file.Files.isRegularFile(cfg)) {
      try {
        com.fasterxml.jackson.databind.JsonNode added = new com.fasterxml.jackson.databind.ObjectMapper()
            .readTree(cfg.toFile()).path("added_tokens_decoder");
        added.fields().forEachRemaining(e -> special.put(e.getValue().path("content").asText(), Integer.parseInt(e.getKey())));
      } catch (java.io.IOException e) {
        throw new ai.zhiku.inference.weights.CheckpointException("cannot parse tokenizer_config.json: " + e.getMessage(), e);
      }
    }
    if (special.isEmpty()) {
      for (String s : new String[] {"<unk>", "<s>", "</s>", "<|plugin|>", "<|interpreter|>", "<|action_end|>",
          "<|action_start|>", "<|im_end|>", "<|im_start|>"}) {
        int id = sp.pieceToId(s);
        if (id != sp.unkId() || s.equals("<unk>")) special.put(s, id);
      }
    }
    return new InternLm2Tokenizer(sp, special, vocabSize);
  }

  public Integer specialId(String content) { return special.get(content); }

  private interface ChunkVisitor {
    void text(String chunk);

    void special(String content, int id);
  }

  private void split(String text, ChunkVisitor v) {
    int pos = 0;
    int chunkStart = 0;
    while (pos < text.length()) {
      String hit = null;
      if (text.charAt(pos) == '<') {
        for (String s : special.keySet()) {
          if (text.startsWith(s, pos)) {
            hit = s;
            break;
          }
        }
      }
      if (hit == null) {
        pos++;
        continue;
      }
      if (pos > chunkStart) v.text(text.substring(chunkStart, pos));
      v.special(hit, special.get(hit));
      pos += hit.length();
      chunkStart = pos;
    }
    if (chunkStart < text.length()) v.text(text.substring(chunkStart));
  }

  @Override
  public int[] encode(String text, boolean addSpecialTokens) {
    List<Integer> ids = new ArrayList<>();
    if (addSpecialTokens) ids.add(bos);
    split(text, new ChunkVisitor() {
      public void text(String chunk) { for (int id : sp.encode(chunk)) ids.add(id); }

      public void special(String content, int id) { ids.add(id); }
    });
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }

  @Override
  public List<String> tokenize(String text) {
    List<String> out = new ArrayList<>();
    split(text, new ChunkVisitor() {
      public void text(String chunk) { for (int id : sp.encode(chunk)) out.add(sp.piece(id)); }

      public void special(String content, int id) { out.add(content); }
    });
    return out;
  }

  @Override
  public String decode(int[] ids, boolean skipSpecialTokens) {
    StringBuilder out = new StringBuilder();
    int[] run = new int[ids.length];
    int n = 0;
    boolean prevSpecial = false;
    for (int id : ids) {
      String sp = specialById.get(id);
      if (sp != null) {
        if (skipSpecialTokens) continue;
        if (!prevSpecial) out.append(' ');
        out.append(this.sp.decode(java.util.Arrays.copyOf(run, n), x -> false)).append(sp);
        n = 0;
        prevSpecial = true;
      } else {
        run[n++] = id;
        prevSpecial = false;
      }
    }
    out.append(sp.decode(java.util.Arrays.copyOf(run, n), x -> false));
    String s = out.toString();
    for (String[] c : CLEANUP) s = s.replace(c[0], c[1]);
    return s;
  }

  @Override
  public byte[] tokenBytes(int id) {
    return specialById.containsKey(id) ? null : sp.pieceBytes(id);
  }

  @Override
  public int vocabSize() { return vocabSize; }
}
