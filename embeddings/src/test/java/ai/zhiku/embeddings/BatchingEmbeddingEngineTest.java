package ai.zhiku.embeddings;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.EmbedItem;
import ai.zhiku.common.engine.EmbeddingResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The batching machinery alone, with test doubles for the model: {@link RecordingEncoder} (a
 * fake encoder whose "vector" tells which input it came from) and {@link CodePointTokenizer}.
 */
class BatchingEmbeddingEngineTest {

  /** Fake encoder: vector = [length, second id, batch size, 1]; records every batch it ran. */
  static final class RecordingEncoder implements Encoder {
    final List<long[][]> batches = new CopyOnWriteArrayList<>();
    volatile long sleepMillis;
    volatile RuntimeException failNext;
    volatile CountDownLatch gate;

    @Override
    public int hiddenSize() {
      return 4;
    }

    @Override
    public float[][] encode(long[][] rows, SentencePooling pooling) {
      batches.add(rows);
      try {
        if (gate != null) {
          gate.await(30, TimeUnit.SECONDS);
        }
        if (sleepMillis > 0) {
          Thread.sleep(sleepMillis);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      RuntimeException f = failNext;
      if (f != null) {
        failNext = null;
        throw f;
      }
      float[][] out = new float[rows.length][];
      for (int i = 0; i < rows.length; i++) {
        out[i] = new float[] {rows[i].length, rows[i].length > 1 ? rows[i][1] : -1, rows.length, 1};
      }
      return out;
    }

    @Override
    public float[] lastHiddenState(long[] ids) {
      return new float[ids.length * 4];
    }

    @Override
    public int residentArrays() {
      return 0;
    }

    @Override
    public void close() {}
  }

  /** Fake tokenizer: [1] + one id per code point (cp % 1000 + 10) + [2]. */
  static final class CodePointTokenizer implements EmbeddingTokenizer {
    @Override
    public long[] encode(String text) {
      long[] body = encodeWithoutSpecials(text);
      long[] out = new long[body.length + 2];
      out[0] = 1;
      System.arraycopy(body, 0, out, 1, body.length);
      out[out.length - 1] = 2;
      return out;
    }

    @Override
    public long[] encodeWithoutSpecials(String text) {
      return text.codePoints().mapToLong(cp -> cp % 1000 + 10).toArray();
    }

    @Override
    public long[] encodeTruncated(String text, int maxTokens) {
      long[] all = encode(text);
      if (all.length <= maxTokens) {
        return all;
      }
      long[] out = Arrays.copyOf(all, maxTokens);
      out[maxTokens - 1] = 2;
      return out;
    }

    @Override
    public long[] wrap(int[] tokenIds) {
      long[] out = new long[tokenIds.length + 2];
      out[0] = 1;
      for (int i = 0; i < tokenIds.length; i++) {
        out[i + 1] = tokenIds[i];
      }
      out[out.length - 1] = 2;
      return out;
    }

    @Override
    public int specialTokenCount() {
      return 2;
    }

    @Override
    public int vocabSize() {
      return 1010;
    }

    @Override
    public String[] tokens(long[] ids) {
      return new String[ids.length];
    }

    @Override
    public void close() {}
  }

  private static final SentencePooling RAW = new SentencePooling(SentencePooling.Mode.CLS, false, 0);

  private static BatchingEmbeddingEngine engine(RecordingEncoder encoder, int maxBatch, long waitMicros) {
    return new BatchingEmbeddingEngine("fake", encoder, new CodePointTokenizer(), RAW, 64, "Q:", maxBatch, waitMicros);
  }

  private static String text(int i) {
    return "x".repeat(1 + i % 7) + (char) ('a' + i % 26);
  }

  @Test
  void concurrentCallsAreMergedIntoBoundedSortedBatchesAndAnsweredInOrder() throws Exception {
    RecordingEncoder encoder = new RecordingEncoder();
    encoder.sleepMillis = 5;
    try (BatchingEmbeddingEngine engine = engine(encoder, 8, 20_000)) {
      List<CompletableFuture<EmbeddingResult>> futures = new ArrayList<>();
      List<Thread> callers = new ArrayList<>();
      CompletableFuture<?>[] slots = new CompletableFuture<?>[64];
      for (int i = 0; i < 64; i++) {
        final int n = i;
        Thread t = new Thread(() -> slots[n] = engine.embed(List.of(EmbedItem.text(text(n)), EmbedItem.text("yy")), false, false));
        callers.add(t);
      }
      callers.forEach(Thread::start);
      for (Thread t : callers) {
        t.join();
      }
      for (CompletableFuture<?> f : slots) {
        @SuppressWarnings("unchecked")
        CompletableFuture<EmbeddingResult> r = (CompletableFuture<EmbeddingResult>) f;
        futures.add(r);
      }
      for (int i = 0; i < 64; i++) {
        EmbeddingResult r = futures.get(i).get(30, TimeUnit.SECONDS);
        String t = text(i);
        assertThat(r.vectors().get(0)[0]).isEqualTo(t.length() + 2);
        assertThat(r.vectors().get(0)[1]).isEqualTo('x' % 1000 + 10);
        assertThat(r.vectors().get(1)[0]).isEqualTo(4);
        assertThat(r.vectors().get(1)[1]).isEqualTo('y' % 1000 + 10);
        assertThat(r.promptTokens()).isEqualTo(t.length() + 2 + 4);
      }
      int rows = 0;
      int largest = 0;
      for (long[][] batch : encoder.batches) {
        assertThat(batch.length).isLessThanOrEqualTo(8);
        for (int i = 1; i < batch.length; i++) {
          assertThat(batch[i].length).as("sorted by length").isGreaterThanOrEqualTo(batch[i - 1].length);
        }
        rows += batch.length;
        largest = Math.max(largest, batch.length);
      }
      assertThat(rows).isEqualTo(128);
      assertThat(largest).as("calls were merged").isEqualTo(8);
      assertThat(encoder.batches.size()).isLessThan(128 / 2);
    }
  }

  @Test
  void aLoneCallerNeverWaitsForCompany() throws Exception {
    RecordingEncoder encoder = new RecordingEncoder();
    try (BatchingEmbeddingEngine engine = engine(encoder, 32, 5_000_000)) { // 5 s max wait
      for (int i = 0; i < 5; i++) {
        long t0 = System.nanoTime();
        engine.embed(List.of(EmbedItem.text("hello")), false, false).get(30, TimeUnit.SECONDS);
        assertThat((System.nanoTime() - t0) / 1e6).as("ms").isLessThan(1000);
      }
    }
  }

  @Test
  void queryInstructionIsPrependedToTextAndTokenInputs() throws Exception {
    RecordingEncoder encoder = new RecordingEncoder();
    try (BatchingEmbeddingEngine engine = engine(encoder, 32, 0)) {
      EmbeddingResult r =
          engine.embed(List.of(EmbedItem.text("ab"), EmbedItem.tokens(new int[] {500, 501})), true, false).get();
      // "Q:" adds two ids to each input
      assertThat(r.vectors().get(0)[0]).isEqualTo(6);
      assertThat(r.vectors().get(0)[1]).isEqualTo('Q' % 1000 + 10);
      assertThat(r.vectors().get(1)[0]).isEqualTo(6);
      assertThat(r.vectors().get(1)[1]).isEqualTo('Q' % 1000 + 10);
      assertThat(r.promptTokens()).isEqualTo(12);
    }
  }

  @Test
  void aFailedForwardPassFailsItsCallsAndTheEngineRecovers() throws Exception {
    RecordingEncoder encoder = new RecordingEncoder();
    try (BatchingEmbeddingEngine engine = engine(encoder, 32, 0)) {
      encoder.failNext = new IllegalStateException("boom");
      ExecutionException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              ExecutionException.class, () -> engine.embed(List.of(EmbedItem.text("a")), false, false).get(30, TimeUnit.SECONDS));
      assertThat(((ZhikuException) e.getCause()).kind()).isEqualTo(ErrorKind.INTERNAL);
      assertThat(engine.embed(List.of(EmbedItem.text("a")), false, false).get(30, TimeUnit.SECONDS).vectors()).hasSize(1);
    }
  }

  @Test
  void closeFailsQueuedCallsAsUnavailable() throws Exception {
    RecordingEncoder encoder = new RecordingEncoder();
    encoder.gate = new CountDownLatch(1);
    BatchingEmbeddingEngine engine = engine(encoder, 1, 0);
    CompletableFuture<EmbeddingResult> running = engine.embed(List.of(EmbedItem.text("a")), false, false);
    while (encoder.batches.isEmpty()) {
      Thread.sleep(1);
    }
    CompletableFuture<EmbeddingResult> queued = engine.embed(List.of(EmbedItem.text("b")), false, false);
    Thread closer = new Thread(engine::close);
    closer.start();
    Thread.sleep(50);
    encoder.gate.countDown();
    closer.join(30_000);
    assertThat(running.get(30, TimeUnit.SECONDS).vectors()).hasSize(1);
    ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, () -> queued.get(30, TimeUnit.SECONDS));
    assertThat(((ZhikuException) e.getCause()).kind()).isEqualTo(ErrorKind.UNAVAILABLE);
  }

  @Test
  void overLongInputsAreTruncatedOnlyWhenAsked() throws Exception {
    RecordingEncoder encoder = new RecordingEncoder();
    try (BatchingEmbeddingEngine engine = engine(encoder, 32, 0)) {
      String longText = "z".repeat(100);
      ExecutionException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              ExecutionException.class, () -> engine.embed(List.of(EmbedItem.text(longText)), false, false).get());
      assertThat(e.getCause().getMessage()).contains("maximum context length is 64 tokens").contains("102 tokens");
      EmbeddingResult r = engine.embed(List.of(EmbedItem.text(longText), EmbedItem.tokens(new int[100])), false, true).get();
      assertThat(r.vectors().get(0)[0]).isEqualTo(64);
      assertThat(r.vectors().get(1)[0]).isEqualTo(64);
      assertThat(r.promptTokens()).isEqualTo(128);
    }
  }
}
