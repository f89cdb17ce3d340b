package ai.zhiku.embeddings;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The Java WordPiece tokenizer (vocab.txt only) against the golden ids and the Rust tokenizer. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WordPieceTokenizerTest {

  private final BgeGolden golden = BgeGolden.get();
  private WordPieceTokenizer wordPiece;
  private HfEmbeddingTokenizer rust;

  @BeforeAll
  void load() throws Exception {
    wordPiece = WordPieceTokenizer.read(BgeGolden.DIR);
    rust = HfEmbeddingTokenizer.fromJson(Files.readString(BgeGolden.DIR.resolve("tokenizer.json")), 512);
  }

  @AfterAll
  void close() {
    rust.close();
  }

  @Test
  void vocabIsSplitOnNewlinesOnly() {
    assertThat(wordPiece.vocabSize()).isEqualTo(21128);
    assertThat(wordPiece.tokens(new long[] {343, 13502})).containsExactly("\u2028", "##\u2028");
    assertThat(wordPiece.tokens(new long[] {0, 100, 101, 102, 103})).containsExactly("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]");
  }

  @Test
  void idsMatchTheGoldenExactly() {
    for (BgeGolden.Case c : golden.cases.values()) {
      assertThat(wordPiece.encode(c.text()).length).as(c.name()).isEqualTo(c.tokensBeforeTruncation());
      assertThat(wordPiece.encodeTruncated(c.text(), 512)).as(c.name()).containsExactly(c.inputIds());
    }
  }

  @Test
  void agreesWithTheRustTokenizerOnRandomMixedText() {
    String pool =
        "abcxyzABCXYZ0189 \t\n\r\u00a0\u3000\u2028\u200b\u00ad\u0000\ufffd\u000b"
            + ".,;:!?'\"()[]{}<>$+=^`|~@#%&*-_/\\"
            + "你好世界中文向量数据库检索。，、；：？！“”‘’（）《》【】"
            + "ＡＢＣ１２３ａｂｃ￥％"
            + "éèçñüÅØ"
            + "日本語ですカタカナ한국어"
            + "🙂👨‍👩‍👧🚀"
            + "\ud840\udc00\ud86d\udf40";
    int[] cps = pool.codePoints().toArray();
    Random random = new Random(42);
    for (int n = 0; n < 2000; n++) {
      StringBuilder sb = new StringBuilder();
      int len = 1 + random.nextInt(40);
      int literalAt = random.nextInt(10) == 0 ? random.nextInt(len) : -1;
      for (int i = 0; i < len; i++) {
        if (i == literalAt) {
          sb.append(random.nextBoolean() ? "[CLS]" : "[MASK]");
        }
        sb.appendCodePoint(cps[random.nextInt(cps.length)]);
      }
      String text = sb.toString();
      assertThat(wordPiece.encode(text)).as("%s", text.codePoints().mapToObj(Integer::toHexString).toList()).containsExactly(rust.encode(text));
    }
  }

  @Test
  void lowerCasingVocabulariesLowerCaseAndStripAccents() {
    WordPieceTokenizer lower =
        new WordPieceTokenizer(
            List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "cafe", "##s"),
            true,
            true,
            true,
            Map.of("unk_token", "[UNK]", "cls_token", "[CLS]", "sep_token", "[SEP]", "pad_token", "[PAD]", "mask_token", "[MASK]"));
    assertThat(lower.encode("Hello CAFÉS")).containsExactly(2, 5, 6, 7, 3);
  }
}
