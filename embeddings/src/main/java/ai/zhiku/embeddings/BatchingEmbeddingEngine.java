package ai.zhiku.embeddings;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.EmbedItem;
import ai.zhiku.common.engine.EmbeddingEngine;
import ai.zhiku.common.engine.EmbeddingModelInfo;
import ai.zhiku.common.engine.EmbeddingResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An {@link EmbeddingEngine} that merges concurrent {@link #embed} calls into batches.
 *
 * <p>Threads: {@code embed} only validates and returns; one tokenizer thread turns inputs into ids
 * (and refuses over-long ones), and one inference thread runs the encoder, whose own intra-op
 * threads are capped at the number of cores. The inference thread takes the first queued input,
 * waits at most {@code maxBatchWait} for more while other calls are still on their way (it never
 * waits when no other call is pending), collects up to four batches' worth, sorts them by length
 * so each forward pass pads little, and runs them in batches of at most {@code maxBatchSize}.
 * Futures are completed on the inference thread: callbacks must not block (use the *Async
 * variants for heavy work).
 *
 * <p>Inputs: text is tokenized with the model's special tokens; token-id inputs are the model's
 * ids without special tokens and are wrapped with them ({@code [CLS] … [SEP]} for BERT). With
 * {@code query}, the query instruction is prepended (to token-id inputs as its token ids). Usage
 * counts every id fed to the model, special tokens included.
 */
public final class BatchingEmbeddingEngine implements EmbeddingEngine {

  private static final Logger log = LoggerFactory.getLogger(BatchingEmbeddingEngine.class);
  private static final int GATHER_BATCHES = 4;

  private final String modelName;
  private final Encoder encoder;
  private final EmbeddingTokenizer tokenizer;
  private final SentencePooling pooling;
  private final int maxTokens;
  private final String queryInstruction;
  private final long[] instructionIds;
  private final int maxBatchSize;
  private final long maxBatchWaitNanos;

  private final LinkedBlockingQueue<Job> queue = new LinkedBlockingQueue<>();
  /** Calls with at least one input not yet taken into a batch (tokenizing or queued). */
  private final AtomicInteger undispatched = new AtomicInteger();
  private final ExecutorService front;
  private final Thread inference;
  private volatile boolean closed;
  private final AtomicLong batches = new AtomicLong();
  private final AtomicLong rows = new AtomicLong();
  private final AtomicLong tokens = new AtomicLong();
  private final AtomicLong paddedTokens = new AtomicLong();
  private final AtomicLong forwardNanos = new AtomicLong();
  private volatile ai.zhiku.common.engine.StepListener stepListener = ai.zhiku.common.engine.StepListener.NONE;

  BatchingEmbeddingEngine(
      String modelName,
      Encoder encoder,
      EmbeddingTokenizer tokenizer,
      SentencePooling pooling,
      int maxTokens,
      String queryInstruction,
      int maxBatchSize,
      long maxBatchWaitMicros) {
    this.modelName = modelName;
    this.encoder = encoder;
    this.tokenizer = tokenizer;
    this.pooling = pooling;
    this.maxTokens = maxTokens;
    this.queryInstruction = queryInstruction == null ? "" : queryInstruction;
    this.instructionIds = tokenizer.encodeWithoutSpecials(this.queryInstruction);
    this.maxBatchSize = maxBatchSize;
    this.maxBatchWaitNanos = TimeUnit.MICROSECONDS.toNanos(maxBatchWaitMicros);
    this.front =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "zhiku-embed-tokenize-" + modelName);
              t.setDaemon(true);
              return t;
            });
    this.inference = new Thread(this::loop, "zhiku-embed-infer-" + modelName);
    this.inference.setDaemon(true);
    this.inference.start();
  }

  @Override
  public EmbeddingModelInfo info() {
    return new EmbeddingModelInfo(encoder.hiddenSize(), maxTokens, queryInstruction);
  }

  /** The name this engine was opened under (for logs and thread names). */
  public String modelName() {
    return modelName;
  }

  @Override
  public CompletableFuture<EmbeddingResult> embed(List<EmbedItem> inputs, boolean query, boolean truncate) {
    if (closed) {
      return CompletableFuture.failedFuture(ZhikuException.unavailable("the embedding model " + modelName + " is shut down"));
    }
    if (inputs == null || inputs.isEmpty()) {
      return CompletableFuture.failedFuture(ZhikuException.invalid("input", "input must not be empty"));
    }
    Call call = new Call(inputs.size());
    List<EmbedItem> items = new ArrayList<>(inputs); // the caller may reuse its list
    undispatched.incrementAndGet();
    try {
      front.execute(() -> prepare(call, items, query, truncate));
    } catch (RejectedExecutionException e) {
      undispatched.decrementAndGet();
      call.future.completeExceptionally(ZhikuException.unavailable("the embedding model " + modelName + " is shut down"));
    }
    return call.future;
  }

  private void prepare(Call call, List<EmbedItem> inputs, boolean query, boolean truncate) {
    long[][] ids = new long[inputs.size()][];
    try {
      for (int i = 0; i < ids.length; i++) {
        ids[i] = toIds(inputs.get(i), i, inputs.size(), query, truncate);
      }
    } catch (RuntimeException | Error e) {
      undispatched.decrementAndGet();
      call.future.completeExceptionally(e instanceof ZhikuException ? e : ZhikuException.internal("tokenization failed", e));
      return;
    }
    int tokens = 0;
    for (long[] row : ids) {
      tokens += row.length;
    }
    call.tokens = tokens;
    for (int i = 0; i < ids.length; i++) {
      queue.add(new Job(call, i, ids[i]));
    }
  }

  private long[] toIds(EmbedItem item, int index, int count, boolean query, boolean truncate) {
    String where = count == 1 ? "input" : "input[" + index + "]";
    if (item == null || (item.text() == null) == (item.tokenIds() == null)) {
      throw ZhikuException.invalid("input", where + " must be a string or an array of token ids");
    }
    if (item.text() != null) {
      String text = query ? queryInstruction + item.text() : item.text();
      long[] ids = tokenizer.encode(text);
      if (ids.length <= maxTokens) {
        return ids;
      }
      if (!truncate) {
        throw tooLong(where, ids.length);
      }
      return tokenizer.encodeTruncated(text, maxTokens);
    }
    int[] raw = item.tokenIds();
    if (raw.length == 0) {
      throw ZhikuException.invalid("input", where + " must not be an empty array of token ids");
    }
    int vocab = tokenizer.vocabSize();
    for (int id : raw) {
      if (id < 0 || id >= vocab) {
        throw ZhikuException.invalid(
            "input", where + " contains token id " + id + ", outside this model's vocabulary [0, " + vocab + ")");
      }
    }
    int[] body = raw;
    if (query && instructionIds.length > 0) {
      body = new int[instructionIds.length + raw.length];
      for (int i = 0; i < instructionIds.length; i++) {
        body[i] = (int) instructionIds[i];
      }
      System.arraycopy(raw, 0, body, instructionIds.length, raw.length);
    }
    int total = body.length + tokenizer.specialTokenCount();
    if (total > maxTokens) {
      if (!truncate) {
        throw tooLong(where, total);
      }
      body = Arrays.copyOf(body, maxTokens - tokenizer.specialTokenCount());
    }
    return tokenizer.wrap(body);
  }

  private ZhikuException tooLong(String where, int tokens) {
    return new ZhikuException(
        ErrorKind.INVALID_REQUEST,
        "This model's maximum context length is "
            + maxTokens
            + " tokens, however you requested "
            + tokens
            + " tokens ("
            + tokens
            + " in "
            + where
            + "). Please reduce the length of the input, or ask for truncation.",
        "input",
        "context_length_exceeded");
  }

  private void loop() {
    List<Job> gathered = new ArrayList<>();
    while (!closed) {
      try {
        Job first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        take(first, gathered);
        drain(gathered);
        long deadline = System.nanoTime() + maxBatchWaitNanos;
        while (gathered.size() < maxBatchSize && undispatched.get() > 0) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            break;
          }
          Job next = queue.poll(left, TimeUnit.NANOSECONDS);
          if (next == null) {
            break;
          }
          take(next, gathered);
          drain(gathered);
        }
        gathered.sort(Comparator.comparingInt(j -> j.ids.length));
        for (int from = 0; from < gathered.size(); from += maxBatchSize) {
          run(gathered.subList(from, Math.min(gathered.size(), from + maxBatchSize)));
        }
      } catch (InterruptedException e) {
        if (!closed) {
          log.warn("embedding inference thread of {} interrupted", modelName);
        }
        fail(gathered, ZhikuException.unavailable("the embedding model " + modelName + " is shut down"));
        return;
      } catch (RuntimeException | Error e) {
        log.error("embedding inference loop of {} failed", modelName, e);
        fail(gathered, ZhikuException.internal("the embedding engine failed", e));
      } finally {
        gathered.clear();
      }
    }
  }

  /** Fails the calls of {@code jobs} that are not complete yet (completing twice is a no-op). */
  private static void fail(List<Job> jobs, ZhikuException error) {
    for (Job job : jobs) {
      job.call.future.completeExceptionally(error);
    }
  }

  private void take(Job job, List<Job> into) {
    into.add(job);
    if (job.call.toDispatch.decrementAndGet() == 0) {
      undispatched.decrementAndGet();
    }
  }

  private void drain(List<Job> into) {
    int room = maxBatchSize * GATHER_BATCHES - into.size();
    while (room-- > 0) {
      Job next = queue.poll();
      if (next == null) {
        return;
      }
      take(next, into);
    }
  }

  private void run(List<Job> batch) {
    long[][] rows = new long[batch.size()][];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = batch.get(i).ids;
    }
    int longest = 0;
    long used = 0;
    for (long[] row : rows) {
      longest = Math.max(longest, row.length);
      used += row.length;
    }
    batches.incrementAndGet();
    this.rows.addAndGet(rows.length);
    tokens.addAndGet(used);
    paddedTokens.addAndGet((long) longest * rows.length);
    float[][] vectors;
    long started = System.nanoTime();
    try {
      vectors = encoder.encode(rows, pooling);
      forwardNanos.addAndGet(System.nanoTime() - started);
      stepListener.onStep(rows.length, (int) used, 0, 0);
    } catch (RuntimeException | Error e) {
      log.error("embedding forward pass of {} failed on a batch of {}", modelName, rows.length, e);
      fail(batch, ZhikuException.internal("the embedding forward pass failed", e));
      return;
    }
    for (int i = 0; i < rows.length; i++) {
      batch.get(i).call.complete(batch.get(i).index, pooling.finish(vectors[i]));
    }
  }

  /**
   * Forward passes run so far, inputs they carried, tokens of those inputs, tokens after padding
   * (padding overhead = paddedTokens / tokens - 1) and time spent in forward passes.
   */
  public record BatchStats(long batches, long rows, long tokens, long paddedTokens, long forwardNanos) {
    public double meanBatchSize() {
      return batches == 0 ? 0 : (double) rows / batches;
    }
  }

  @Override
  public void stepListener(ai.zhiku.common.engine.StepListener listener) {
    this.stepListener = listener == null ? ai.zhiku.common.engine.StepListener.NONE : listener;
  }

  public BatchStats stats() {
    return new BatchStats(batches.get(), rows.get(), tokens.get(), paddedTokens.get(), forwardNanos.get());
  }

  /** Native arrays the encoder holds between calls; tests check it does not grow. */
  int residentArrays() {
    return encoder.residentArrays();
  }

  /**
   * The last hidden state of one id sequence, run directly on the caller's thread (golden checks
   * and tools; not to be used while {@link #embed} calls are in flight).
   */
  float[] lastHiddenState(long[] ids) {
    return encoder.lastHiddenState(ids);
  }

  /** The ids the engine feeds the model for a text (diagnostics and golden checks). */
  long[] tokenize(String text) {
    return tokenizer.encode(text);
  }

  EmbeddingTokenizer tokenizer() {
    return tokenizer;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    front.shutdown();
    inference.interrupt();
    try {
      front.awaitTermination(10, TimeUnit.SECONDS);
      inference.join(TimeUnit.SECONDS.toMillis(30));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    ZhikuException gone = ZhikuException.unavailable("the embedding model " + modelName + " is shut down");
    for (Job job; (job = queue.poll()) != null; ) {
      job.call.future.completeExceptionally(gone);
    }
    encoder.close();
    tokenizer.close();
  }

  private record Job(Call call, int index, long[] ids) {}

  private static final class Call {
    final CompletableFuture<EmbeddingResult> future = new CompletableFuture<>();
    final float[][] vectors;
    final AtomicInteger toDispatch;
    final AtomicInteger remaining;
    volatile int tokens;

    Call(int n) {
      this.vectors = new float[n][];
      this.toDispatch = new AtomicInteger(n);
      this.remaining = new AtomicInteger(n);
    }

    void complete(int index, float[] vector) {
      vectors[index] = vector;
      if (remaining.decrementAndGet() == 0) {
        future.complete(new EmbeddingResult(List.of(vectors), tokens));
      }
    }
  }
}
