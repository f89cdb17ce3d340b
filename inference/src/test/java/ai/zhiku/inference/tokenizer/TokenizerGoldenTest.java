package ai.zhiku.inference.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.inference.Goldens;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TokenizerGoldenTest {

  static int[] ints(JsonNode a) {
    int[] r = new int[a.size()];
    for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
    return r;
  }

  static List<String> strings(JsonNode a) {
    List<String> r = new ArrayList<>();
    a.forEach(n -> r.add(n.asText()));
    return r;
  }

  @Test
  void chatGlm2MatchesOfficialTokenizer() {
    Tokenizer t = ChatGlm2Tokenizer.load(Goldens.dir("chatglm2-tiny"), 65024);
    check(t, Goldens.json("chatglm2-tiny", "tokenizer_golden.json"), false);
  }

  @Test
  void internLm2MatchesOfficialTokenizer() {
    Tokenizer t = InternLm2Tokenizer.load(Goldens.dir("internlm2-tiny"), 92544);
    check(t, Goldens.json("internlm2-tiny", "tokenizer_golden.json"), true);
  }

  private static void check(Tokenizer t, JsonNode g, boolean hasSkip) {
    for (JsonNode c : g.get("cases")) {
      String text = c.get("text").asText();
      assertThat(t.tokenize(text)).as("tokens of %s", text).isEqualTo(strings(c.get("tokens")));
      assertThat(t.encode(text, true)).as("ids of %s", text).isEqualTo(ints(c.get("ids")));
      assertThat(t.encode(text, false)).as("ids_no_special of %s", text).isEqualTo(ints(c.get("ids_no_special")));
      assertThat(t.decode(ints(c.get("ids_no_special")), false)).as("decoded %s", text).isEqualTo(c.get("decoded").asText());
      assertThat(t.decode(ints(c.get("ids")), false)).as("decoded_with_special %s", text).isEqualTo(c.get("decoded_with_special").asText());
      if (hasSkip) {
        assertThat(t.decode(ints(c.get("ids")), true)).as("skip special %s", text)
            .isEqualTo(c.get("decoded_with_special_skip_special_tokens").asText());
      }
    }
    for (JsonNode c : g.get("decode_cases")) {
      assertThat(t.decode(ints(c.get("ids")), false)).as("decode %s", c.get("ids")).isEqualTo(c.get("decoded").asText());
      if (hasSkip) {
        assertThat(t.decode(ints(c.get("ids")), true)).as("decode skip %s", c.get("ids"))
            .isEqualTo(c.get("decoded_skip_special_tokens").asText());
      }
    }
  }
}
