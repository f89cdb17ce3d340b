package ai.zhiku.inference.engine;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.common.engine.ChatModelInfo;
import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationHandle;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.TokenSink;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.DecoderModel;
import ai.zhiku.inference.model.DecoderModel.SeqStep;
import ai.zhiku.inference.model.KvCache;
import ai.zhiku.inference.model.ModelConfig;
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
 * The chat engine: one thread owns the model, the KV cache and every running sequence.
 * {@link #submit} and {@link GenerationHandle#cancel} only enqueue commands, which the thread
 * drains between steps; new sequences join the running batch at the next step (continuous
 * batching), each step runs prefills and decodes of all running sequences in one forward pass.
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
  private final KvCache cache;
  private final int contextLength;
  private final int maxNumSeqs;
  private final LinkedBlockingQueue<Object> commands = new LinkedBlockingQueue<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final Deque<Sequence> waiting = new ArrayDeque<>();
  private final List<Sequence> running = new ArrayList<>();
  private final Thread thread;
  private volatile boolean closed;
  private volatile ai.zhiku.common.engine.StepListener stepListener = ai.zhiku.common.engine.StepListener.NONE;
  private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

  private record Cancel(Sequence seq) {}

  private static final Object SHUTDOWN = new Object();

  /** One generation, owned by the engine thread (only {@code cancelled} is touched elsewhere). */
  private static final class Sequence implements GenerationHandle {
    final String requestId;
    final int[] promptIds;
    final String echo;
    final SamplingConfig sampling;
    final Sampler sampler;
    final IncrementalDetokenizer detok;
    final TokenSink sink;
    final LinkedBlockingQueue<Object> commands;
    volatile boolean cancelled;
    int slot = -1;
    int cached;
    int generated;
    int lastToken;
    int unsentTokens;
    boolean done;

    Sequence(String requestId, int[] promptIds, String echo, SamplingConfig sampling, Sampler sampler,
             IncrementalDetokenizer detok, TokenSink sink, LinkedBlockingQueue<Object> commands) {
      this.requestId = requestId;
      this.promptIds = promptIds;
      this.echo = echo;
      this.sampling = sampling;
      this.sampler = sampler;
      this.detok = detok;
      this.sink = sink;
      this.commands = commands;
    }

    @Override
    public void cancel() {
      if (!cancelled) {
        cancelled = true;
        commands.add(new Cancel(this));
      }
    }
  }

  public LocalChatEngine(ChatModel model, ChatTemplate template, int maxNumSeqs, long kvCacheBytes) {
    this.model = model;
    this.template = template;
    this.maxNumSeqs = maxNumSeqs;
    ModelConfig cfg = model.model().config();
    long bytesPerToken = 2L * cfg.numLayers() * cfg.numKvHeads() * cfg.headDim() * model.model().dtype().getNumOfBytes();
    long fit = kvCacheBytes / (bytesPerToken * maxNumSeqs);
    this.contextLength = (int) Math.max(16, Math.min(cfg.contextLength(), fit));
    if (contextLength < cfg.contextLength()) {
      log.info("context capped at {} tokens (model: {}) so that {} sequences fit in {} MiB of KV cache",
          contextLength, cfg.contextLength(), maxNumSeqs, kvCacheBytes >> 20);
    }
    this.cache = model.model().newCache(maxNumSeqs, contextLength);
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
    return input.isChat() ? template.render(input.messages()) : input.prompt();
  }

  @Override
  public int countTokens(PromptInput input) {
    return model.tokenizer().encode(render(input), true).length;
  }

  @Override
  public GenerationHandle submit(GenerationRequest request, TokenSink sink) {
    if (closed) throw ZhikuException.unavailable("the chat engine is shut down");
    String text = render(request.input());
    int[] ids = model.tokenizer().encode(text, true);
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
    Sequence seq = new Sequence(request.requestId(), ids, request.echo() ? text : null, sampling,
        new Sampler(sampling, m.config().vocabSize(), ids),
        new IncrementalDetokenizer(model.tokenizer(), sampling.stop()), sink, commands);
    inFlight.incrementAndGet();
    commands.add(seq);
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
        while (!waiting.isEmpty() && running.size() < maxNumSeqs && cache.freeSlots() > 0) {
          Sequence s = waiting.poll();
          s.slot = cache.acquire();
          running.add(s);
        }
        if (!running.isEmpty()) step();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      shutdown();
    } catch (RuntimeException | Error e) {
      log.error("engine thread failed", e);
      for (Sequence s : new ArrayList<>(running)) fail(s, e);
      for (Sequence s : waiting) fail(s, e);
      waiting.clear();
      closed = true;
    }
  }

  private void handle(Object c) {
    if (c instanceof Sequence s) {
      if (s.cancelled) {
        inFlight.decrementAndGet();
        s.done = true;
        return;
      }
      if (s.echo != null && !s.echo.isEmpty()) deliver(s, () -> s.sink.onText(s.echo, 0));
      waiting.add(s);
    } else if (c instanceof Cancel cancel) {
      Sequence s = cancel.seq();
      if (waiting.remove(s) || running.contains(s)) retire(s);
    }
  }

  /**
   * One step over the running sequences, scheduled by tokens: every decoding sequence adds its
   * last token, and prompts are prefilled in chunks from what is left of the step's token budget
   * (at least one chunk per step), so a long prompt never stalls the others for its whole prefill.
   */
  private void step() {
    List<Sequence> members = new ArrayList<>(running.size());
    List<SeqStep> batch = new ArrayList<>(running.size());
    int budget = STEP_TOKEN_BUDGET;
    for (Sequence s : running) {
      if (s.cached >= s.promptIds.length) {
        members.add(s);
        batch.add(new SeqStep(s.slot, new int[] {s.lastToken}, s.cached));
        budget--;
      }
    }
    int decodes = batch.size();
    boolean prefilled = false;
    for (Sequence s : running) {
      if (s.cached < s.promptIds.length && (budget > 0 || !prefilled)) {
        int n = Math.min(s.promptIds.length - s.cached, Math.max(budget, PREFILL_CHUNK_MIN));
        members.add(s);
        batch.add(new SeqStep(s.slot, java.util.Arrays.copyOfRange(s.promptIds, s.cached, s.cached + n), s.cached));
        budget -= n;
        prefilled = true;
      }
    }
    float[][] logits;
    try {
      logits = model.model().forward(batch, cache, false);
      reportStep(batch, decodes);
    } catch (RuntimeException e) {
      log.error("forward pass failed for {} sequences", batch.size(), e);
      for (Sequence s : new ArrayList<>(running)) fail(s, e);
      return;
    }
    for (int i = 0; i < members.size(); i++) {
      Sequence s = members.get(i);
      s.cached += batch.get(i).tokens().length;
      if (s.cancelled) {
        retire(s);
        continue;
      }
      if (s.cached < s.promptIds.length) continue; // prompt not fully in the cache yet
      int id = s.sampler.sample(logits[i]);
      s.sampler.accept(id);
      s.generated++;
      s.lastToken = id;
      s.unsentTokens++;
      if (isStopId(id)) {
        finish(s, FinishReason.STOP);
        continue;
      }
      String delta = s.detok.push(id);
      if (!delta.isEmpty()) {
        int n = s.unsentTokens;
        s.unsentTokens = 0;
        deliver(s, () -> s.sink.onText(delta, n));
      }
      if (s.detok.stopped()) finish(s, FinishReason.STOP);
      else if (s.generated >= s.sampling.maxTokens() || s.cached + 1 > contextLength) finish(s, FinishReason.LENGTH);
    }
  }

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
    long cached = 0;
    for (Sequence s : running) {
      cached += s.cached;
    }
    stepListener.onStep(batch.size(), prefill, decodes, Math.min(1.0, (double) (cached + prefill + decodes) / ((long) maxNumSeqs * contextLength)));
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
    deliver(s, () -> s.sink.onFinish(reason, s.promptIds.length, s.generated));
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

  /** Frees the sequence's slot and forgets it. */
  private void retire(Sequence s) {
    if (s.done) return;
    s.done = true;
    running.remove(s);
    waiting.remove(s);
    cache.release(s.slot);
    s.slot = -1;
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
