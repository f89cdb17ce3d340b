package ai.zhiku.embeddings;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.EmbedItem;
import ai.zhiku.common.engine.EmbeddingResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * What every engine that serves bge-small-zh-v1.5 must do, checked against the golden file that
 * ONNX Runtime and the Hugging Face tokenizer produced. Subclasses open the engine one way
 * (bundled ONNX, or the Hugging Face checkpoint on PyTorch); one engine per class.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class BgeEngineContract {

  static final double COSINE_MIN = 0.9999;

  protected BatchingEmbeddingEngine engine;
  protected final BgeGolden golden = BgeGolden.get();

  abstract BatchingEmbeddingEngine open();

  @BeforeAll
  void start() {
    engine = open();
  }

  @AfterAll
  void stop() {
    if (engine != null) {
      engine.close();
    }
  }

  List<float[]> embed(List<String> texts, boolean query, boolean truncate) {
    List<EmbedItem> items = texts.stream().map(EmbedItem::text).toList();
    return result(engine.embed(items, query, truncate)).vectors();
  }

  static EmbeddingResult result(CompletableFuture<EmbeddingResult> future) {
    try {
      return future.get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  static ZhikuException failure(CompletableFuture<EmbeddingResult> future) {
    try {
      future.get(60, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(ZhikuException.class);
      return (ZhikuException) e.getCause();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("expected the call to fail");
  }

  @Test
  void infoDescribesTheModel() {
    assertThat(engine.info().dimension()).isEqualTo(512);
    assertThat(engine.info().maxTokens()).isEqualTo(512);
    assertThat(engine.info().queryInstruction()).isEqualTo(golden.queryInstruction);
  }

  @Test
  void tokenIdsMatchTheGoldenExactly() {
    for (BgeGolden.Case c : golden.cases.values()) {
      long[] all = engine.tokenizer().encode(c.text());
      assertThat(all.length).as(c.name() + " length before truncation").isEqualTo(c.tokensBeforeTruncation());
      long[] ids = c.truncated() ? engine.tokenizer().encodeTruncated(c.text(), 512) : all;
      assertThat(ids).as(c.name()).containsExactly(c.inputIds());
      assertThat(engine.tokenizer().tokens(ids)).as(c.name() + " tokens").containsExactly(c.tokens());
    }
  }

  @Test
  void everyEmbeddingMatchesTheGolden() {
    List<BgeGolden.Case> cases = new ArrayList<>(golden.cases.values());
    List<float[]> vectors = embed(cases.stream().map(BgeGolden.Case::text).toList(), false, true);
    for (int i = 0; i < cases.size(); i++) {
      assertThat(BgeGolden.cosine(vectors.get(i), cases.get(i).embedding()))
          .as(cases.get(i).name())
          .isGreaterThanOrEqualTo(COSINE_MIN);
      double norm = 0;
      for (float v : vectors.get(i)) {
        norm += v * v;
      }
      assertThat(norm).as("L2 norm² of " + cases.get(i).name()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
    }
  }

  @Test
  void lastHiddenStateMatchesWithinFloat32Tolerance() {
    for (String name : List.of("zh_greeting", "q1", "mix_code")) {
      BgeGolden.Case c = golden.get(name);
      float[] hidden = engine.lastHiddenState(c.inputIds());
      for (int pos = 0; pos < 4; pos++) {
        float[] row = Arrays.copyOfRange(hidden, pos * 512, (pos + 1) * 512);
        assertThat(BgeGolden.maxAbsDiff(row, c.hiddenFirst4()[pos])).as(name + " position " + pos).isLessThanOrEqualTo(1e-4);
      }
    }
  }

  @Test
  void queryFlagPrependsTheInstruction() {
    float[] plain = embed(List.of(golden.get("q1_plain").text()), false, false).get(0);
    float[] query = embed(List.of(golden.get("q1_plain").text()), true, false).get(0);
    assertThat(BgeGolden.cosine(plain, golden.get("q1_plain").embedding())).isGreaterThanOrEqualTo(COSINE_MIN);
    assertThat(BgeGolden.cosine(query, golden.get("q1").embedding())).isGreaterThanOrEqualTo(COSINE_MIN);
    assertThat(BgeGolden.cosine(query, plain)).isLessThan(0.99);
  }

  @Test
  void eachQueryRanksItsOwnPassageFirst() {
    List<float[]> q = embed(golden.queries.stream().map(n -> golden.get(n).text()).toList(), false, false);
    List<float[]> p = embed(golden.passages.stream().map(n -> golden.get(n).text()).toList(), false, false);
    for (int i = 0; i < q.size(); i++) {
      double own = BgeGolden.cosine(q.get(i), p.get(i));
      for (int j = 0; j < p.size(); j++) {
        if (j != i) {
          assertThat(own).as("query %d vs passage %d", i, j).isGreaterThan(BgeGolden.cosine(q.get(i), p.get(j)) + 0.2);
        }
      }
    }
  }

  @Test
  void similarChineseSentencesScoreAboveDissimilarOnes() {
    List<float[]> v = embed(List.of("今天天气很好，适合出去散步。", "今天阳光明媚，很适合去外面走走。", "数据库索引可以加快查询速度。"), false, false);
    double similar = BgeGolden.cosine(v.get(0), v.get(1));
    double dissimilar = BgeGolden.cosine(v.get(0), v.get(2));
    assertThat(similar).isGreaterThan(dissimilar + 0.2);
  }

  @Test
  void batchAndSingleGiveTheSameVectors() {
    List<String> texts = golden.batchNames.stream().map(n -> golden.get(n).text()).toList();
    List<float[]> batch = embed(texts, false, false);
    for (int i = 0; i < texts.size(); i++) {
      float[] single = embed(List.of(texts.get(i)), false, false).get(0);
      assertThat(BgeGolden.maxAbsDiff(single, batch.get(i))).as(texts.get(i)).isLessThan(1e-5);
      assertThat(BgeGolden.cosine(batch.get(i), golden.batchEmbeddings[i])).isGreaterThanOrEqualTo(COSINE_MIN);
    }
  }

  @Test
  void concurrentCallsAreBatchedAndKeepTheirOrder() throws Exception {
    List<BgeGolden.Case> cases = new ArrayList<>(golden.cases.values()).subList(0, 40);
    List<CompletableFuture<EmbeddingResult>> futures = new ArrayList<>();
    for (int i = 0; i < cases.size(); i++) {
      // two inputs per call, in an order that differs from the golden order
      BgeGolden.Case a = cases.get(i);
      BgeGolden.Case b = cases.get(cases.size() - 1 - i);
      futures.add(engine.embed(List.of(EmbedItem.text(a.text()), EmbedItem.text(b.text())), false, false));
    }
    for (int i = 0; i < cases.size(); i++) {
      EmbeddingResult r = futures.get(i).get(60, TimeUnit.SECONDS);
      BgeGolden.Case a = cases.get(i);
      BgeGolden.Case b = cases.get(cases.size() - 1 - i);
      assertThat(BgeGolden.cosine(r.vectors().get(0), a.embedding())).as(a.name()).isGreaterThanOrEqualTo(COSINE_MIN);
      assertThat(BgeGolden.cosine(r.vectors().get(1), b.embedding())).as(b.name()).isGreaterThanOrEqualTo(COSINE_MIN);
      assertThat(r.promptTokens()).isEqualTo(a.inputIds().length + b.inputIds().length);
    }
  }

  @Test
  void usageCountsTokensWithSpecials() {
    EmbeddingResult r = result(engine.embed(List.of(EmbedItem.text(golden.get("zh_greeting").text())), false, false));
    assertThat(r.promptTokens()).isEqualTo(8);
  }

  @Test
  void overLongInputIsRefusedWithTheCountAndTheLimit() {
    ZhikuException e =
        failure(engine.embed(List.of(EmbedItem.text("短句"), EmbedItem.text(golden.get("long_zh_800").text())), false, false));
    assertThat(e.kind()).isEqualTo(ErrorKind.INVALID_REQUEST);
    assertThat(e.param()).isEqualTo("input");
    assertThat(e.code()).isEqualTo("context_length_exceeded");
    assertThat(e.getMessage()).contains("maximum context length is 512 tokens").contains("802 tokens").contains("input[1]");
  }

  @Test
  void truncationKeepsTheFirst510TextTokens() {
    List<float[]> v =
        embed(List.of(golden.get("long_zh_510_tokens").text(), golden.get("long_zh_511_tokens").text()), false, true);
    assertThat(BgeGolden.maxAbsDiff(v.get(0), v.get(1))).isLessThan(1e-6);
    assertThat(BgeGolden.cosine(v.get(1), golden.get("long_zh_511_tokens").embedding())).isGreaterThanOrEqualTo(COSINE_MIN);
  }

  @Test
  void tokenIdInputsAreWrappedWithClsAndSep() {
    BgeGolden.Case c = golden.get("zh_weather");
    long[] ids = c.inputIds();
    int[] raw = new int[ids.length - 2];
    for (int i = 0; i < raw.length; i++) {
      raw[i] = (int) ids[i + 1];
    }
    EmbeddingResult r = result(engine.embed(List.of(EmbedItem.tokens(raw)), false, false));
    assertThat(BgeGolden.cosine(r.vectors().get(0), c.embedding())).isGreaterThanOrEqualTo(COSINE_MIN);
    assertThat(r.promptTokens()).isEqualTo(ids.length);

    BgeGolden.Case plain = golden.get("q1_plain");
    int[] q = new int[plain.inputIds().length - 2];
    for (int i = 0; i < q.length; i++) {
      q[i] = (int) plain.inputIds()[i + 1];
    }
    float[] query = result(engine.embed(List.of(EmbedItem.tokens(q)), true, false)).vectors().get(0);
    assertThat(BgeGolden.cosine(query, golden.get("q1").embedding())).isGreaterThanOrEqualTo(COSINE_MIN);
  }

  @Test
  void badInputsAreRefusedNamingTheParameter() {
    assertThat(failure(engine.embed(List.of(), false, false)).param()).isEqualTo("input");
    assertThat(failure(engine.embed(List.of(EmbedItem.tokens(new int[0])), false, false)).getMessage()).contains("empty");
    ZhikuException oov = failure(engine.embed(List.of(EmbedItem.tokens(new int[] {5, 21128})), false, false));
    assertThat(oov.kind()).isEqualTo(ErrorKind.INVALID_REQUEST);
    assertThat(oov.getMessage()).contains("21128").contains("[0, 21128)");
    assertThat(failure(engine.embed(List.of(new EmbedItem(null, null)), false, false)).param()).isEqualTo("input");
    ZhikuException tooManyIds = failure(engine.embed(List.of(EmbedItem.tokens(new int[600])), false, false));
    assertThat(tooManyIds.getMessage()).contains("602 tokens");
    assertThat(result(engine.embed(List.of(EmbedItem.tokens(new int[600])), false, true)).promptTokens()).isEqualTo(512);
  }

  @Test
  void noNativeArraysLeakAcrossManyCalls() {
    embed(List.of("预热"), false, false);
    int before = engine.residentArrays();
    for (int i = 0; i < 30; i++) {
      embed(List.of("第" + i + "次调用", "另一句话" + i), i % 2 == 0, false);
    }
    assertThat(engine.residentArrays()).isEqualTo(before);
  }

  @Test
  void emptyTextEmbedsAsClsSep() {
    float[] v = embed(List.of(""), false, false).get(0);
    assertThat(BgeGolden.cosine(v, golden.get("edge_empty").embedding())).isGreaterThanOrEqualTo(COSINE_MIN);
  }

  static void assertRefused(Runnable r) {
    assertThatThrownBy(r::run).isInstanceOf(CompletionException.class);
  }
}
