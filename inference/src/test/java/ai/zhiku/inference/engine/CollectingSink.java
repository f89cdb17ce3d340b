package ai.zhiku.inference.engine;

import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.TokenSink;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Test sink that records every callback and lets the test wait for the end. */
class CollectingSink implements TokenSink {
  final List<String> deltas = new CopyOnWriteArrayList<>();
  final List<Integer> tokenCounts = new CopyOnWriteArrayList<>();
  volatile FinishReason reason;
  volatile int promptTokens;
  volatile int completionTokens;
  volatile Throwable error;
  volatile int endCalls;
  private final CountDownLatch done = new CountDownLatch(1);

  @Override
  public void onText(String text, int tokens) {
    deltas.add(text);
    tokenCounts.add(tokens);
  }

  @Override
  public void onFinish(FinishReason reason, int promptTokens, int completionTokens) {
    this.reason = reason;
    this.promptTokens = promptTokens;
    this.completionTokens = completionTokens;
    endCalls++;
    done.countDown();
  }

  @Override
  public void onError(Throwable error) {
    this.error = error;
    endCalls++;
    done.countDown();
  }

  CollectingSink await() {
    try {
      if (!done.await(60, TimeUnit.SECONDS)) throw new AssertionError("generation did not finish in 60 s");
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    if (error != null) throw new AssertionError("generation failed", error);
    return this;
  }

  boolean finished() { return done.getCount() == 0; }

  String text() { return String.join("", deltas); }
}
