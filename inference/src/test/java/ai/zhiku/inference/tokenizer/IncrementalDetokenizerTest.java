package ai.zhiku.inference.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.inference.Goldens;
import java.util.List;
import org.junit.jupiter.api.Test;

class IncrementalDetokenizerTest {
  private final Tokenizer glm = ChatGlm2Tokenizer.load(Goldens.dir("chatglm2-tiny"), 65024);
  private final Tokenizer intern = InternLm2Tokenizer.load(Goldens.dir("internlm2-tiny"), 92544);

  private static String stream(Tokenizer t, int[] ids, List<String> stops, List<String> deltas) {
    IncrementalDetokenizer d = new IncrementalDetokenizer(t, stops);
    StringBuilder sb = new StringBuilder();
    for (int id : ids) {
      String s = d.push(id);
      if (!s.isEmpty()) deltas.add(s);
      sb.append(s);
      if (d.stopped()) return sb.toString();
    }
    String rest = d.flush();
    if (!rest.isEmpty()) deltas.add(rest);
    return sb.append(rest).toString();
  }

  @Test
  void byteFallbackCharactersAreNeverSplit() {
    String text = "😀🚀👍🏽 emoji 한국어 문장입니다 你好，世界！ It's a test , isn't it ?";
    for (Tokenizer t : List.of(glm, intern)) {
      int[] ids = t.encode(text, false);
      List<String> deltas = new java.util.ArrayList<>();
      assertThat(stream(t, ids, List.of(), deltas)).isEqualTo(t.decode(ids, true));
      for (String d : deltas) assertThat(d).doesNotContain("\ufffd");
      assertThat(deltas.size()).isGreaterThan(5);
    }
  }

  @Test
  void leadingSpaceRuleMatchesOneShotDecoding() {
    int[] ids = glm.encode("Hello world", false); // ▁Hello ▁world
    assertThat(stream(glm, ids, List.of(), new java.util.ArrayList<>())).isEqualTo("Hello world");
  }

  @Test
  void stopStringsAreHeldBackAndCut() {
    int[] ids = intern.encode("The answer is 42. Observation: done", false);
    List<String> deltas = new java.util.ArrayList<>();
    String out = stream(intern, ids, List.of("Observation:"), deltas);
    assertThat(out).isEqualTo("The answer is 42. ");
    for (String d : deltas) assertThat(d).doesNotContain("Obs");
    // a partial match that never completes is released at the end
    assertThat(stream(intern, intern.encode("see Obs", false), List.of("Observation:"), new java.util.ArrayList<>())).isEqualTo("see Obs");
  }

  /**
   * Long replies stream to exactly their one-shot decoding with the window: every golden prompt's
   * ids, repeated into a few hundred tokens of mixed text, through both families' tokenizers.
   */
  @Test
  void longRepliesStreamToTheirOneShotDecoding() {
    String sample = "第一段：模型在 CPU 上运行。It's 2026, isn't it? 数字 3.14159 和 emoji 😀！\n"
        + "  indented code: for (int i = 0; i < n; i++) { x += i; }\n'quoted' words , spaced . marks ! 你好";
    for (Tokenizer t : List.of(glm, intern)) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < 12; i++) b.append(sample).append(i);
      int[] ids = t.encode(b.toString(), false);
      assertThat(ids.length).isGreaterThan(300);
      assertThat(stream(t, ids, List.of(), new java.util.ArrayList<>())).isEqualTo(t.decode(ids, true));
    }
  }

  /** Decoding work per token stays constant: the ids decoded over a long reply grow linearly, not quadratically. */
  @Test
  void decodingWorkPerTokenDoesNotGrowWithTheReply() {
    for (Tokenizer inner : List.of(glm, intern)) {
      long[] decoded = new long[1];
      Tokenizer counting = new Tokenizer() {
        public int[] encode(String text, boolean special) { return inner.encode(text, special); }
        public List<String> tokenize(String text) { return inner.tokenize(text); }
        public String decode(int[] ids, boolean skip) {
          decoded[0] += ids.length;
          return inner.decode(ids, skip);
        }
        public int unstableSuffix(CharSequence d) { return inner.unstableSuffix(d); }
        public int vocabSize() { return inner.vocabSize(); }
        public byte[] tokenBytes(int id) { return inner.tokenBytes(id); }
      };
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < 60; i++) b.append("模型在 CPU 上运行, it's fast . 第").append(i).append("行\n");
      int[] ids = inner.encode(b.toString(), false);
      assertThat(stream(counting, ids, List.of(), new java.util.ArrayList<>())).isEqualTo(inner.decode(ids, true));
      assertThat(decoded[0]).as("ids decoded for %d ids", ids.length).isLessThan(20L * ids.length);
    }
  }
}
