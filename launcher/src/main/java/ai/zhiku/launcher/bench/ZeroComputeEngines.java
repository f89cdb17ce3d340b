package ai.zhiku.launcher.bench;

import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.common.engine.ChatModelInfo;
import ai.zhiku.common.engine.EmbedItem;
import ai.zhiku.common.engine.EmbeddingEngine;
import ai.zhiku.common.engine.EmbeddingModelInfo;
import ai.zhiku.common.engine.EmbeddingResult;
import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.TokenSink;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Benchmark instruments, not models: engines that answer at once, so `bin/zhiku bench serving`
 * measures only the serving layer (HTTP, SSE, gRPC, dispatch), like the zero-compute FastChat worker
 * of the anchor figures. Never served by `bin/zhiku serve`.
 */
final class ZeroComputeEngines {
  private ZeroComputeEngines() {}

  private static final java.util.concurrent.ScheduledExecutorService PACER =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "zero-compute-pacer");
        t.setDaemon(true);
        return t;
      });

  /**
   * Answers every request with {@code tokens} one-character tokens: all at once when
   * {@code intervalMicros} is 0 (the worker then coalesces them), else one every interval (a decoder
   * that fast still gets one SSE chunk per token).
   */
  static ChatEngine chat(int tokens, long intervalMicros) {
    return new ChatEngine() {
      @Override
      public ChatModelInfo info() {
        return new ChatModelInfo(4096, "none", 1.0);
      }

      @Override
      public int countTokens(PromptInput input) {
        return 8;
      }

      @Override
      public ai.zhiku.common.engine.GenerationHandle submit(GenerationRequest request, TokenSink sink) {
        int n = request.sampling().maxTokens() == null ? tokens : Math.min(tokens, request.sampling().maxTokens());
        if (intervalMicros <= 0) {
          for (int i = 0; i < n; i++) {
            sink.onText("x", 1);
          }
          sink.onFinish(FinishReason.LENGTH, 8, n);
          return () -> { };
        }
        java.util.concurrent.atomic.AtomicInteger sent = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.ScheduledFuture<?>[] task = new java.util.concurrent.ScheduledFuture<?>[1];
        synchronized (task) {
          task[0] = PACER.scheduleAtFixedRate(() -> {
            synchronized (task) {
              int i = sent.getAndIncrement();
              if (i < n) {
                sink.onText("x", 1);
              } else if (i == n) {
                sink.onFinish(FinishReason.LENGTH, 8, n);
                task[0].cancel(false);
              }
            }
          }, intervalMicros, intervalMicros, java.util.concurrent.TimeUnit.MICROSECONDS);
        }
        return () -> task[0].cancel(false);
      }

      @Override
      public void close() {
      }
    };
  }

  /** Returns a fixed {@code dimension}-dimensional vector per input. */
  static EmbeddingEngine embedding(int dimension) {
    float[] vector = new float[dimension];
    for (int i = 0; i < dimension; i++) {
      vector[i] = (float) Math.sin(i + 1) / (float) Math.sqrt(dimension);
    }
    return new EmbeddingEngine() {
      @Override
      public EmbeddingModelInfo info() {
        return new EmbeddingModelInfo(dimension, 512, "");
      }

      @Override
      public CompletableFuture<EmbeddingResult> embed(List<EmbedItem> inputs, boolean query, boolean truncate) {
        List<float[]> out = new ArrayList<>(inputs.size());
        for (int i = 0; i < inputs.size(); i++) {
          out.add(vector);
        }
        return CompletableFuture.completedFuture(new EmbeddingResult(out, inputs.size() * 4));
      }

      @Override
      public void close() {
      }
    };
  }
}
