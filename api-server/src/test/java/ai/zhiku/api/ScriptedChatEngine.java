package ai.zhiku.api;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.ChatModelInfo;
import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationHandle;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.TokenSink;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A deterministic test double for the chat engine: one "token" per character, the reply is
 * {@code <name>:<last message>} repeated up to max_tokens, emitted every {@code tokenDelayMs}. It
 * honours max_tokens (finish "length"), stop strings (finish "stop", never emitted) and cancel, and
 * records what it saw, so tests can check what reached the worker. With a seed it "samples": each
 * token is a character of that text drawn by a generator seeded with it, so equal seeds give equal
 * replies and different seeds (almost always) different ones. Like the real engine, a prompt plus
 * max_tokens over the context length is refused at submit with {@code context_length_exceeded}
 * and the token counts, and {@link #produced} counts every token it emitted.
 */
final class ScriptedChatEngine implements ChatEngine {
  final String name;
  final int contextLength;
  final long tokenDelayMs;
  final AtomicInteger submitted = new AtomicInteger();
  final AtomicInteger cancelled = new AtomicInteger();
  final AtomicInteger active = new AtomicInteger();
  final java.util.concurrent.atomic.AtomicLong produced = new java.util.concurrent.atomic.AtomicLong();
  final CopyOnWriteArrayList<GenerationRequest> requests = new CopyOnWriteArrayList<>();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "scripted-engine");
    t.setDaemon(true);
    return t;
  });

  /** Set by a test to play an engine whose thread died (an Error in a step). */
  volatile String failure;

  @Override
  public String failure() {
    return failure;
  }

  ScriptedChatEngine(String name, int contextLength, long tokenDelayMs) {
    this.name = name;
    this.contextLength = contextLength;
    this.tokenDelayMs = tokenDelayMs;
  }

  @Override
  public ChatModelInfo info() {
    return new ChatModelInfo(contextLength, "scripted", 1.0);
  }

  static String render(PromptInput input) {
    if (!input.isChat()) {
      return input.prompt();
    }
    StringBuilder sb = new StringBuilder();
    for (ChatMessage m : input.messages()) {
      sb.append(m.role()).append(':').append(m.content()).append('\n');
    }
    return sb.toString();
  }

  @Override
  public int countTokens(PromptInput input) {
    return render(input).length();
  }

  @Override
  public GenerationHandle submit(GenerationRequest request, TokenSink sink) {
    submitted.incrementAndGet();
    requests.add(request);
    int promptTokens = countTokens(request.input());
    String what = request.input().isChat() ? "messages" : "prompt";
    if (promptTokens >= contextLength) { // as the real engine: no room left for even one token
      throw ZhikuException.contextLength("This model's maximum context length is " + contextLength + " tokens. However, your "
          + what + " resulted in " + promptTokens + " tokens. Please reduce the length of the " + what + ".");
    }
    int maxTokens = request.sampling().maxTokens() == null ? contextLength - promptTokens : request.sampling().maxTokens();
    if (promptTokens + maxTokens > contextLength) {
      throw ZhikuException.contextLength("This model's maximum context length is " + contextLength + " tokens. However, you requested "
          + (promptTokens + maxTokens) + " tokens (" + promptTokens + " in the messages, " + maxTokens + " in the completion).");
    }
    String last = request.input().isChat() ? request.input().messages().getLast().content() : request.input().prompt();
    String base = name + ":" + last + ";";
    StringBuilder out = new StringBuilder();
    while (out.length() < maxTokens) {
      out.append(base);
    }
    String full = out.substring(0, maxTokens);
    if (request.sampling().seed() != null) {
      java.util.Random rng = new java.util.Random(request.sampling().seed());
      StringBuilder sampled = new StringBuilder(maxTokens);
      for (int i = 0; i < maxTokens; i++) {
        sampled.append(base.charAt(rng.nextInt(base.length())));
      }
      full = sampled.toString();
    }
    int cut = full.length();
    for (String stop : request.sampling().stop()) {
      int at = full.indexOf(stop);
      if (at >= 0 && at < cut) {
        cut = at;
      }
    }
    String reply = full.substring(0, cut);
    FinishReason reason = cut < full.length() ? FinishReason.STOP : FinishReason.LENGTH;
    active.incrementAndGet();
    AtomicInteger pos = new AtomicInteger();
    ScheduledFuture<?>[] task = new ScheduledFuture<?>[1];
    boolean[] over = new boolean[1];
    Runnable step = () -> {
      synchronized (over) {
        if (over[0] || task[0] == null) {
          return;
        }
        int i = pos.getAndIncrement();
        if (i >= reply.length()) {
          over[0] = true;
          active.decrementAndGet();
          task[0].cancel(false);
          sink.onFinish(reason, promptTokens, reply.length());
          return;
        }
        produced.incrementAndGet();
        sink.onText(String.valueOf(reply.charAt(i)), 1);
      }
    };
    synchronized (over) {
      task[0] = timer.scheduleAtFixedRate(step, 0, Math.max(1, tokenDelayMs), TimeUnit.MILLISECONDS);
    }
    return () -> {
      synchronized (over) {
        if (!over[0]) {
          over[0] = true;
          active.decrementAndGet();
          cancelled.incrementAndGet();
          task[0].cancel(false);
        }
      }
    };
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
