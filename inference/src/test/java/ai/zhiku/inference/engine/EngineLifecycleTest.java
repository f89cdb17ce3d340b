package ai.zhiku.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.SamplingParams;
import ai.zhiku.common.engine.TokenSink;
import ai.zhiku.inference.ChatEngineConfig;
import ai.zhiku.inference.ChatEngineFactory;
import ai.zhiku.inference.Goldens;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class EngineLifecycleTest {

  @Test
  void aFailingSinkCancelsOnlyItsOwnSequence() {
    try (ChatEngine e = ChatEngineFactory.open(new ChatEngineConfig(Goldens.dir("chatglm2-tiny"), "cpu", "float32", null, 2))) {
      AtomicInteger calls = new AtomicInteger();
      e.submit(new GenerationRequest("bad", PromptInput.ofPrompt("x"), SamplingParams.greedy(50), false), new TokenSink() {
        public void onText(String text, int tokens) {
          calls.incrementAndGet();
          throw new IllegalStateException("client went away");
        }

        public void onFinish(FinishReason reason, int p, int c) { calls.incrementAndGet(); }

        public void onError(Throwable error) { calls.incrementAndGet(); }
      });
      CollectingSink good = LocalChatEngineTest.run(e, PromptInput.ofPrompt("y"), SamplingParams.greedy(20));
      assertThat(good.completionTokens).isEqualTo(20);
      assertThat(calls.get()).isEqualTo(1);
    }
  }

  @Test
  void closingFailsRunningRequestsAsUnavailableAndRefusesNewOnes() {
    ChatEngine e = ChatEngineFactory.open(new ChatEngineConfig(Goldens.dir("internlm2-tiny"), "cpu", "float32", null, 1));
    CollectingSink running = new CollectingSink();
    e.submit(new GenerationRequest("r", PromptInput.ofPrompt("a"), SamplingParams.greedy(5000), false), running);
    CollectingSink queued = new CollectingSink();
    e.submit(new GenerationRequest("q", PromptInput.ofPrompt("b"), SamplingParams.greedy(5), false), queued);
    e.close();
    for (CollectingSink s : new CollectingSink[] {running, queued}) {
      assertThat(s.finished()).isTrue();
      assertThat(s.endCalls).isEqualTo(1);
      assertThat(s.error).isInstanceOfSatisfying(ZhikuException.class, z -> assertThat(z.kind()).isEqualTo(ErrorKind.UNAVAILABLE));
    }
    assertThatThrownBy(() -> e.submit(new GenerationRequest("n", PromptInput.ofPrompt("c"), SamplingParams.greedy(1), false), new CollectingSink()))
        .isInstanceOfSatisfying(ZhikuException.class, z -> assertThat(z.kind()).isEqualTo(ErrorKind.UNAVAILABLE));
    e.close(); // idempotent
  }

  /**
   * An Error inside a step (a test hook: a step listener that throws one, as the native attention
   * throws OutOfMemoryError when malloc fails) ends the engine thread: the engine reports why, every
   * sequence it held gets an error (none hangs), and new requests are refused as unavailable.
   */
  @Test
  void anErrorInAStepMarksTheEngineFailedAndAnswersEveryone() throws Exception {
    try (ChatEngine e = ChatEngineFactory.open(new ChatEngineConfig(Goldens.dir("internlm2-tiny"), "cpu", "float32", null, 1))) {
      assertThat(e.failure()).isNull();
      AtomicInteger steps = new AtomicInteger();
      e.stepListener((sequences, prefill, decode, kv) -> {
        if (steps.incrementAndGet() == 3) throw new OutOfMemoryError("test hook: no native memory for attention scores");
      });
      CollectingSink running = new CollectingSink();
      e.submit(new GenerationRequest("r", PromptInput.ofPrompt("a"), SamplingParams.greedy(500), false), running);
      CollectingSink queued = new CollectingSink();
      e.submit(new GenerationRequest("q", PromptInput.ofPrompt("b"), SamplingParams.greedy(5), false), queued);
      long deadline = System.nanoTime() + 5_000_000_000L;
      while ((!running.finished() || !queued.finished()) && System.nanoTime() < deadline) Thread.sleep(10);
      assertThat(running.finished()).isTrue();
      assertThat(queued.finished()).isTrue();
      assertThat(running.error).isNotNull();
      assertThat(queued.error).isNotNull();
      assertThat(e.failure()).contains("OutOfMemoryError").contains("test hook");
      assertThatThrownBy(() -> e.submit(new GenerationRequest("n", PromptInput.ofPrompt("c"), SamplingParams.greedy(1), false), new CollectingSink()))
          .isInstanceOfSatisfying(ZhikuException.class, z -> {
            assertThat(z.kind()).isEqualTo(ErrorKind.UNAVAILABLE);
            assertThat(z.getMessage()).contains("OutOfMemoryError");
          });
    }
  }
}
