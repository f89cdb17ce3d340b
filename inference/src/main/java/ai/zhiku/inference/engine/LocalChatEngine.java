package ai.zhiku.inference.engine;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.common.engine.ChatModelInfo;
import ai.zhiku.common.engine.EngineStats;
import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationHandle;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.TokenSink;
import ai.zhiku.inference.kernel.Bf16Matmul;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.DecoderModel;
import ai.zhiku.inference.model.DecoderModel.SeqStep;
import ai.zhiku.inference.model.KvCache;
import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.sampling.Logprobs;
import ai.zhiku.inference.sampling.SamplingConfig;
import ai.zhiku.inference.sampling.Sampler;
import ai.zhiku.inference.tokenizer.ChatTemplate;
import ai.zhiku.inference.tokenizer.IncrementalDetokenizer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chat engine: one thread owns the model, the paged KV cache and every running sequence.
 * {@link #submit} and {@link GenerationHandle#cancel} only enqueue commands, which the thread
 * drains between steps; new sequences join the running batch at the next step (continuous
 * batching), each step runs prefills and decodes of all running sequences in one forward pass.
 *
 * <p>Sequences hold block tables into the cache and grow block by block. A waiting sequence is
 * admitted when the blocks for its prompt are available (after what the prefix cache already
 * holds of it); when a running sequence needs a block and none is left, the newest running
 * sequence is preempted: its blocks are released (full ones stay in the prefix cache) and it waits
 * again at the front of the queue, to be recomputed from its prompt and the tokens it already
 * generated, so its output goes on as if nothing happened.
 */
public final class LocalChatEngine implements ChatEngine {
  private static final Logger log = LoggerFactory.getLogger(LocalChatEngine.class);
  /** Requests allowed to wait for a slot before submit answers overloaded. */
  static final int MAX_WAITING = 512;
  /** Tokens one step computes at most (decodes count one each), unless a single chunk is larger. */
  static final int STEP_TOKEN_BUDGET = 512;
  /** Smallest prompt chunk a step takes. */
  static final int PREFILL_CHUNK_MIN = 16;

  private final ChatModel model;
  private final ChatTemplate template;
  private final OutputSetup outputs;
  private final KvCache cache;
  private final BlockPool pool;
  private final int blockSize;
  private final int contextLength;
  private final boolean prefixCaching;
  private long admissions;
  private long preemptions;
  private long steps;
  private long hostNanos;
  private long forwardNanos;
  private volatile EngineStats stats = EngineStats.NONE;
  private final int maxNumSeqs;
  private final LinkedBlockingQueue<Object> commands = new LinkedBlockingQueue<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final Deque<Sequence> waiting = new ArrayDeque<>();
  private final List<Sequence> running = new ArrayList<>();
  private final Thread thread;
  private volatile boolean closed;
  private volatile String failure;
  private volatile ai.zhiku.common.engine.StepListener stepListener = ai.zhiku.common.engine.StepListener.NONE;
  private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

  private record Cancel(Sequence seq) {}

  private static final Object SHUTDOWN = new Object();

  /** One generation, owned by the engine thread (only {@code cancelled} is touched elsewhere). */
  private static final class Sequence implements GenerationHandle {
    final String requestId;
    final int promptLength;
    final String echo;
    final SamplingConfig sampling;
    final Sampler sampler;
    final IncrementalDetokenizer detok;
    final TokenSink sink;
    final LinkedBlockingQueue<Object> commands;
    /** Top alternatives to report with each token's logprob; -1: no logprobs. */
    int logprobs = -1;
    /** Whether the prompt's own tokens get logprobs (completions' echo with logprobs), and how many have. */
    boolean promptLogprobs;
    int promptScored;
    volatile boolean cancelled;
    /** The prompt and the tokens generated so far; the last one is not in the cache yet while decoding. */
    int[] tokens;
    int size;
    /** Leading tokens whose keys and values are in the cache. */
    int cached;
    int[] blocks = new int[4];
    int heldBlocks;
    /** Prefix-cache keys of the full blocks of tokens[0, size): keys[i] covers tokens up to (i + 1) * blockSize. */
    long[] keys = new long[4];
    int keyCount;
    /** Leading blocks offered to the prefix cache. */
    int published;
    long admittedAt;
    int generated;
    int unsentTokens;
    boolean done;

    Sequence(String requestId, int[] promptIds, String echo, SamplingConfig sampling, Sampler sampler,
             IncrementalDetokenizer detok, TokenSink sink, LinkedBlockingQueue<Object> commands) {
      this.requestId = requestId;
      this.tokens = promptIds;
      this.size = promptIds.length;
      this.promptLength = promptIds.length;
      this.echo = echo;
      this.sampling = sampling;
      this.sampler = sampler;
      this.detok = detok;
      this.sink = sink;
      this.commands = commands;
    }

    void append(int id) {
      if (size == tokens.length) tokens = java.util.Arrays.copyOf(tokens, Math.max(16, size * 2));
      tokens[size++] = id;
    }

    void addBlock(int b) {
      if (heldBlocks == blocks.length) blocks = java.util.Arrays.copyOf(blocks, heldBlocks * 2);
      blocks[heldBlocks++] = b;
    }

    @Override
    public void cancel() {
      if (!cancelled) {
        cancelled = true;
        commands.add(new Cancel(this));
      }
    }
  }

  /** Tokens a planned step computes for one sequence. */
  private record Planned(Sequence seq, int tokens) {}

  /**
   * @param maxNumSeqs sequences decoded together at most
   * @param kvCacheBytes memory for the paged KV cache; it holds no more than {@code maxNumSeqs}
   *     sequences of the model's whole context, and the context served is the model's unless the
   *     cache holds fewer tokens
   */
  public LocalChatEngine(ChatModel model, ChatTemplate template, int maxNumSeqs, long kvCacheBytes) {
    this(model, template, maxNumSeqs, kvCacheBytes, "auto", true);
  }

  /**
   * @param kvCacheDtype auto (the compute precision), float32, float16 or bfloat16: see {@link DecoderModel#bf16Cache}
   * @param prefixCaching whether sequences share the full blocks of a common prefix
   */
  public LocalChatEngine(ChatModel model, ChatTemplate template, int maxNumSeqs, long kvCacheBytes, String kvCacheDtype,
                         boolean prefixCaching) {
    this.model = model;
    this.prefixCaching = prefixCaching;
    this.template = template;
    this.outputs = new OutputSetup(model, template);
    this.maxNumSeqs = maxNumSeqs;
    ModelConfig cfg = model.model().config();
    this.blockSize = KvCache.DEFAULT_BLOCK_SIZE;
    boolean bf16Kv = model.model().bf16Cache(kvCacheDtype);
    long bytesPerBlock = model.model().kvBytesPerToken(bf16Kv) * blockSize;
    long blocksWanted = ((long) maxNumSeqs * cfg.contextLength() + blockSize - 1) / blockSize;
    long blocks = Math.min(kvCacheBytes / bytesPerBlock, blocksWanted);
    if (model.model().manager().getDevice().equals(ai.djl.Device.cpu())) {
      // the native attention reads a layer as one buffer
      blocks = Math.min(blocks, KvCache.maxBufferedBlocks(cfg, blockSize, model.model().kvValueBytes(bf16Kv)));
    }
    blocks = Math.max(blocks, 2);
    this.contextLength = (int) Math.max(16, Math.min(cfg.contextLength(), blocks * blockSize));
    log.info("KV cache: {} blocks of {} tokens ({} tokens, {} MiB, {}); context {} tokens (model: {}), up to {} sequences at once",
        blocks, blockSize, blocks * blockSize, blocks * bytesPerBlock >> 20, bf16Kv ? "bfloat16" : model.model().dtype(),
        contextLength, cfg.contextLength(), maxNumSeqs);
    this.cache = model.model().newCache((int) blocks, bf16Kv);
    this.pool = new BlockPool((int) blocks, blockSize);
    this.thread = new Thread(this::loop, "zhiku-engine-" + model.family());
    this.thread.setDaemon(true);
    this.thread.start();
  }

  public ChatModel model() { return model; }

  /** Native arrays held by the model and the cache; constant while serving. */
  public int nativeArrayCount() { return model.model().manager().getManagedArrays().size(); }

  @Override
  public ChatModelInfo info() {
    return new ChatModelInfo(contextLength, template.name(), 1.0);
  }

  private String render(PromptInput input) {
    if (input.ids() != null) return model.tokenizer().decode(input.ids(), false);
    return input.isChat() ? template.render(input.messages(), input.tools()) : input.prompt();
  }

  /** The prompt's ids: a chat through its template (which may build them from ids), a prompt tokenized. */
  private int[] encode(PromptInput input) {
    if (input.ids() != null) {
      int vocab = model.model().config().vocabSize();
      for (int id : input.ids()) {
        if (id < 0 || id >= vocab) throw ZhikuException.invalid("prompt", "token id " + id + " is outside this model's vocabulary (0.." + (vocab - 1) + ")");
      }
      if (input.ids().length == 0) throw ZhikuException.invalid("prompt", "a token-id prompt must not be empty");
      return input.ids();
    }
    return input.isChat() ? template.encode(input.messages(), input.tools(), model.tokenizer())
        : model.tokenizer().encode(input.prompt(), true);
  }

  @Override
  public int countTokens(PromptInput input) {
    return encode(input).length;
  }

  @Override
  public int[] tokenize(PromptInput input) {
    return encode(input).clone();
  }

  @Override
  public String detokenize(int[] ids) {
    int vocab = model.model().config().vocabSize();
    for (int id : ids) {
      if (id < 0 || id >= vocab) throw ZhikuException.invalid("tokens", "token id " + id + " is outside this model's vocabulary (0.." + (vocab - 1) + ")");
    }
    return model.tokenizer().decode(ids, true);
  }

  @Override
  public GenerationHandle submit(GenerationRequest request, TokenSink sink) {
    if (failure != null) throw ZhikuException.unavailable("the chat engine failed and serves no more: " + failure);
    if (closed) throw ZhikuException.unavailable("the chat engine is shut down");
    int[] ids = encode(request.input());
    String what = request.input().isChat() ? "messages" : "prompt";
    if (ids.length >= contextLength) {
      throw ZhikuException.contextLength("This model's maximum context length is " + contextLength
          + " tokens. However, your " + what + " resulted in " + ids.length + " tokens. Please reduce the length of the " + what + ".");
    }
    SamplingConfig sampling = SamplingConfig.resolve(request.sampling(), contextLength - ids.length);
    if (ids.length + sampling.maxTokens() > contextLength) {
      throw ZhikuException.contextLength("This model's maximum context length is " + contextLength
          + " tokens. However, you requested " + (ids.length + sampling.maxTokens()) + " tokens (" + ids.length
          + " in the " + what + ", " + sampling.maxTokens() + " in the completion). Please reduce the length of the "
          + what + " or completion.");
    }
    if (inFlight.get() >= maxNumSeqs + MAX_WAITING) {
      throw ZhikuException.overloaded("the chat engine has " + MAX_WAITING + " requests waiting; retry later");
    }
    DecoderModel m = model.model();
    OutputSetup.Prepared out = outputs.prepare(request, sampling.stop(), sink);
    Sequence seq = new Sequence(request.requestId(), ids, request.echo() ? render(request.input()) : null, sampling,
        new Sampler(sampling, m.config().vocabSize(), ids).bias(request.logitBias()).constrain(out.constraint()),
        out.detokenizer(), out.sink(), commands);
    seq.logprobs = request.logprobs();
    seq.promptLogprobs = request.echo() && request.logprobs() >= 0;
    inFlight.incrementAndGet();
    commands.add(seq);
    if (failure != null && commands.remove(seq)) { // the thread died after the check above: nobody would answer
      inFlight.decrementAndGet();
      throw ZhikuException.unavailable("the chat engine failed and serves no more: " + failure);
    }
    return seq;
  }

  private void loop() {
    try {
      while (true) {
        Object c = running.isEmpty() && waiting.isEmpty() ? commands.take() : commands.poll();
        while (c != null) {
          if (c == SHUTDOWN) {
            shutdown();
            return;
          }
          handle(c);
          c = commands.poll();
        }
        long t0 = System.nanoTime();
        admit();
        if (!running.isEmpty()) {
          long forward = step();
          steps++;
          forwardNanos += forward;
          hostNanos += System.nanoTime() - t0 - forward;
        }
        publishStats();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      shutdown();
    } catch (RuntimeException | Error e) {
      log.error("engine thread failed", e);
      failure = "the engine thread failed: " + e;
      closed = true;
      for (Sequence s : new ArrayList<>(running)) fail(s, e);
      for (Sequence s : new ArrayList<>(waiting)) fail(s, e);
      Object c;
      while ((c = commands.poll()) != null) {
        if (c instanceof Sequence s) fail(s, e);
      }
    }
  }

  @Override
  public String failure() { return failure; }

  private void handle(Object c) {
    if (c instanceof Sequence s) {
      if (s.cancelled) {
        inFlight.decrementAndGet();
        s.done = true;
        return;
      }
      // with prompt logprobs the echo goes out after them, once the prompt is computed
      if (s.echo != null && !s.echo.isEmpty() && !s.promptLogprobs) deliver(s, () -> s.sink.onText(s.echo, 0));
      waiting.add(s);
    } else if (c instanceof Cancel cancel) {
      Sequence s = cancel.seq();
      if (waiting.remove(s) || running.contains(s)) retire(s);
    }
  }

  /**
   * Moves waiting sequences into the running batch, oldest first, while fewer than {@code maxNumSeqs}
   * run and the blocks for each one's tokens are available beyond what the prefix cache gives it
   * (plus one block of headroom per running sequence, so admitting does not force a preemption
   * at once). A sequence whose next uncached block another running sequence is computing right now
   * (the n choices of one request, or the same system prompt sent twice) waits a step for it.
   */
  private void admit() {
    java.util.Iterator<Sequence> it = waiting.iterator();
    while (it.hasNext() && running.size() < maxNumSeqs) {
      Sequence s = it.next();
      extendKeys(s, s.size);
      // the last token is always computed, for its logits; a prompt to be scored is computed whole
      int limit = prefixCaching && !(s.promptLogprobs && s.promptScored < s.promptLength) ? (s.size - 1) / blockSize : 0;
      int matched = 0;
      while (matched < limit && pool.contains(s.keys[matched])) matched++;
      if (matched < limit && beingComputed(s.keys[matched], matched)) continue;
      int[] prefix = pool.takePrefix(s.keys, s.tokens, limit);
      int need = (s.size + blockSize - 1) / blockSize - prefix.length;
      if (pool.available() < need + running.size()) {
        pool.release(prefix, prefix.length);
        break;
      }
      for (int b : prefix) s.addBlock(b);
      s.cached = prefix.length * blockSize;
      s.published = prefix.length;
      s.admittedAt = admissions++;
      it.remove();
      running.add(s);
    }
  }

  /** Whether a running sequence is prefilling the block keyed {@code key} at block index {@code index}. */
  private boolean beingComputed(long key, int index) {
    for (Sequence r : running) {
      if (r.cached < r.size && r.published <= index && r.keyCount > index && r.keys[index] == key) return true;
    }
    return false;
  }

  /** Computes the prefix-cache keys of the full blocks of s.tokens[0, upTo). */
  private void extendKeys(Sequence s, int upTo) {
    while ((s.keyCount + 1) * blockSize <= upTo) {
      if (s.keyCount == s.keys.length) s.keys = java.util.Arrays.copyOf(s.keys, s.keys.length * 2);
      long parent = s.keyCount == 0 ? BlockPool.ROOT : s.keys[s.keyCount - 1];
      s.keys[s.keyCount] = pool.chain(parent, s.tokens, s.keyCount * blockSize);
      s.keyCount++;
    }
  }

  /**
   * One step over the running sequences, scheduled by tokens: every decoding sequence adds its
   * last token, and prompts are prefilled in chunks from what is left of the step's token budget
   * (at least one chunk per step), so a long prompt never stalls the others for its whole prefill.
   */
  private long step() {
    List<Planned> plan = new ArrayList<>(running.size());
    int budget = STEP_TOKEN_BUDGET;
    for (Sequence s : running) {
      if (s.size - s.cached == 1) {
        plan.add(new Planned(s, 1));
        budget--;
      }
    }
    int decodes = plan.size();
    boolean prefilled = false;
    for (Sequence s : running) {
      if (s.size - s.cached > 1 && (budget > 0 || !prefilled)) {
        int n = Math.min(s.size - s.cached, Math.max(budget, PREFILL_CHUNK_MIN));
        plan.add(new Planned(s, n));
        budget -= n;
        prefilled = true;
      }
    }
    for (int i = 0; i < plan.size(); ) {
      Planned p = plan.get(i);
      if (grow(p.seq(), p.seq().cached + p.tokens())) {
        i++;
        continue;
      }
      Sequence victim = running.get(0);
      for (Sequence r : running) if (r.admittedAt > victim.admittedAt) victim = r;
      int at = -1;
      for (int j = 0; j < plan.size(); j++) if (plan.get(j).seq() == victim) at = j;
      preempt(victim);
      if (at >= 0) {
        plan.remove(at);
        if (at < decodes) decodes--;
        if (at < i) i--;
      }
    }
    if (plan.isEmpty()) return 0;
    List<SeqStep> batch = new ArrayList<>(plan.size());
    for (Planned p : plan) {
      Sequence s = p.seq();
      batch.add(new SeqStep(s.blocks, java.util.Arrays.copyOfRange(s.tokens, s.cached, s.cached + p.tokens()), s.cached));
    }
    float[] logits; // row i at i * vocab
    boolean allRows = false;
    for (Planned p : plan) allRows |= p.seq().promptLogprobs && p.seq().promptScored < p.seq().promptLength;
    long f0 = System.nanoTime();
    try {
      logits = allRows ? model.model().forwardAll(batch, cache) : model.model().forwardLast(batch, cache);
    } catch (RuntimeException e) {
      log.error("forward pass failed for {} sequences", batch.size(), e);
      for (Sequence s : new ArrayList<>(running)) fail(s, e);
      return System.nanoTime() - f0;
    }
    long forward = System.nanoTime() - f0;
    reportStep(batch, decodes);
    int vocab = model.model().config().vocabSize();
    int[] rows = new int[plan.size()]; // logits row of each sequence that samples this step
    Sequence[] sampling = new Sequence[plan.size()];
    int n = 0;
    int firstRow = 0; // with allRows: the first of plan entry i's rows
    for (int i = 0; i < plan.size(); i++) {
      Sequence s = plan.get(i).seq();
      int lastRow = allRows ? firstRow + plan.get(i).tokens() - 1 : i;
      if (allRows && s.promptLogprobs && s.promptScored < s.promptLength) scorePrompt(s, logits, firstRow, plan.get(i).tokens(), vocab);
      firstRow += plan.get(i).tokens();
      s.cached += plan.get(i).tokens();
      publish(s);
      if (s.cancelled) {
        retire(s);
      } else if (s.cached == s.size) { // all its tokens are in the cache: it samples its next one
        rows[n] = lastRow;
        sampling[n++] = s;
      }
    }
    // sampling passes over the whole vocabulary once per sequence: on all compute threads (each
    // sequence's sampler and generator are its own)
    int[] ids = new int[n];
    Logprobs[] logprobs = new Logprobs[n];
    RuntimeException[] failed = new RuntimeException[n]; // one sequence's sampling or grammar fault fails only it
    Bf16Matmul.shared().forEach(n, 4L * vocab, (a, b) -> {
      for (int j = a; j < b; j++) {
        Sequence s = sampling[j];
        try {
          ids[j] = s.sampler.sample(logits, rows[j] * vocab, vocab);
          if (s.logprobs >= 0) logprobs[j] = Logprobs.of(logits, rows[j] * vocab, vocab, s.sampling.temperature(), ids[j], s.logprobs);
        } catch (RuntimeException e) {
          failed[j] = e;
        }
      }
    });
    for (int j = 0; j < n; j++) {
      Sequence s = sampling[j];
      int id = ids[j];
      try {
        if (failed[j] != null) throw failed[j];
        s.sampler.accept(id);
      } catch (RuntimeException e) {
        log.error("req={} sampling failed; the other sequences go on", s.requestId, e);
        fail(s, e);
        continue;
      }
      s.append(id);
      s.generated++;
      s.unsentTokens++;
      if (isStopId(id)) {
        finish(s, FinishReason.STOP);
        continue;
      }
      if (logprobs[j] != null) {
        ai.zhiku.common.engine.TokenLogprob lp = outputs.logprob(logprobs[j]);
        deliver(s, () -> s.sink.onLogprob(lp));
      }
      String delta = s.detok.push(id);
      if (!delta.isEmpty()) {
        int tokens = s.unsentTokens;
        s.unsentTokens = 0;
        deliver(s, () -> s.sink.onText(delta, tokens));
      }
      if (s.detok.stopped()) finish(s, FinishReason.STOP);
      else if (s.generated >= s.sampling.maxTokens() || s.size >= contextLength) finish(s, FinishReason.LENGTH);
    }
    return forward;
  }

  private void publishStats() {
    stats = new EngineStats(running.size(), waiting.size(), pool.blocks(), pool.used(), pool.cachedBlocks(), blockSize,
        pool.queries(), pool.hits(), preemptions, steps, hostNanos, forwardNanos);
  }

  @Override
  public EngineStats stats() { return stats; }

  /** Gives s the blocks for its first {@code tokens} tokens; false when the pool ran out first. */
  private boolean grow(Sequence s, int tokens) {
    while (s.heldBlocks * blockSize < tokens) {
      int b = pool.allocate();
      if (b < 0) return false;
      s.addBlock(b);
    }
    return true;
  }

  /**
   * The logprobs of the prompt tokens this step's rows predict (row r, at position cached + r,
   * predicts the token after it; the first prompt token has none, as OpenAI reports it), at
   * temperature 1: the model's own distribution. Sent ahead of the echoed prompt, once it is all
   * scored; a preempted sequence that computes its prompt again does not score it twice.
   */
  private void scorePrompt(Sequence s, float[] logits, int firstRow, int count, int vocab) {
    List<ai.zhiku.common.engine.TokenLogprob> out = new ArrayList<>();
    if (s.promptScored == 0) {
      out.add(outputs.unscored(s.tokens[0]));
      s.promptScored = 1;
    }
    for (int r = 0; r < count; r++) {
      int next = s.cached + r + 1; // the position row r predicts
      if (next >= s.promptLength || next < s.promptScored) continue;
      out.add(outputs.logprob(Logprobs.of(logits, (firstRow + r) * vocab, vocab, 1f, s.tokens[next], s.logprobs)));
      s.promptScored = next + 1;
    }
    boolean complete = s.promptScored == s.promptLength;
    deliver(s, () -> {
      for (var lp : out) s.sink.onLogprob(lp);
      if (complete && s.echo != null && !s.echo.isEmpty()) s.sink.onText(s.echo, 0);
    });
  }

  /** Offers the sequence's newly filled blocks to the prefix cache. */
  private void publish(Sequence s) {
    if (!prefixCaching) return;
    int full = s.cached / blockSize;
    if (full <= s.published) return;
    extendKeys(s, s.cached);
    for (int b = s.published; b < full; b++) {
      pool.publish(s.blocks[b], s.keys[b], b == 0 ? BlockPool.ROOT : s.keys[b - 1], s.tokens, b * blockSize);
    }
    s.published = full;
  }

  /** Takes the sequence's blocks back and queues it first, to be recomputed when blocks are free again. */
  private void preempt(Sequence s) {
    log.debug("req={} preempted at {} tokens", s.requestId, s.size);
    preemptions++;
    pool.release(s.blocks, s.heldBlocks);
    s.heldBlocks = 0;
    s.cached = 0;
    s.published = 0;
    running.remove(s);
    waiting.addFirst(s);
  }

  /** Preemptions since the start. */
  public long preemptions() { return preemptions; }

  /** The paged cache's block accounting and prefix cache (read from the engine thread, or after close). */
  BlockPool pool() { return pool; }

  @Override
  public void stepListener(ai.zhiku.common.engine.StepListener listener) {
    this.stepListener = listener == null ? ai.zhiku.common.engine.StepListener.NONE : listener;
  }

  /**
   * Batch size, prefill and decode tokens of the step just run, and the KV cache in use, for the
   * worker's metrics. The first {@code decodes} entries of a step are the decoding sequences.
   */
  private void reportStep(List<SeqStep> batch, int decodes) {
    int prefill = 0;
    for (int i = decodes; i < batch.size(); i++) {
      prefill += batch.get(i).tokens().length;
    }
    stepListener.onStep(batch.size(), prefill, decodes, (double) pool.used() / pool.blocks());
  }

  private boolean isStopId(int id) {
    for (int s : model.stopIds()) if (s == id) return true;
    return false;
  }

  private void finish(Sequence s, FinishReason reason) {
    String rest = s.detok.flush();
    if (!rest.isEmpty()) {
      int n = s.unsentTokens;
      deliver(s, () -> s.sink.onText(rest, n));
    }
    deliver(s, () -> s.sink.onFinish(reason, s.promptLength, s.generated));
    retire(s);
  }

  private void fail(Sequence s, Throwable e) {
    ZhikuException err = e instanceof ZhikuException z ? z : ZhikuException.internal("generation failed: " + e.getMessage(), e);
    deliver(s, () -> s.sink.onError(err));
    retire(s);
  }

  /** Calls the sink unless the sequence was cancelled; a failing sink cancels its sequence. */
  private void deliver(Sequence s, Runnable call) {
    if (s.cancelled) return;
    try {
      call.run();
    } catch (RuntimeException e) {
      log.warn("req={} sink failed, cancelling: {}", s.requestId, e.toString());
      s.cancelled = true;
    }
  }

  /** Releases the sequence's blocks and forgets it. */
  private void retire(Sequence s) {
    if (s.done) return;
    s.done = true;
    running.remove(s);
    waiting.remove(s);
    pool.release(s.blocks, s.heldBlocks);
    s.heldBlocks = 0;
    inFlight.decrementAndGet();
  }

  private void shutdown() {
    ZhikuException err = ZhikuException.unavailable("the chat engine is shutting down");
    for (Sequence s : new ArrayList<>(running)) fail(s, err);
    for (Sequence s : new ArrayList<>(waiting)) fail(s, err);
    Object c;
    while ((c = commands.poll()) != null) {
      if (c instanceof Sequence s) {
        deliver(s, () -> s.sink.onError(err));
        inFlight.decrementAndGet();
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    commands.add(SHUTDOWN);
    try {
      thread.join(30_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (released.compareAndSet(false, true)) {
      cache.close();
      model.close();
    }
  }
}
