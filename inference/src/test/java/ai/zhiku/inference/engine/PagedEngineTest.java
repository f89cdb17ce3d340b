package ai.zhiku.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.SamplingParams;
import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.KvCache;
import ai.zhiku.inference.model.ModelFamilies;
import ai.zhiku.inference.model.Precision;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The engine over a paged KV cache: preemption, the prefix cache, eviction and the whole context. */
class PagedEngineTest {
  private static LocalChatEngine engine(String name, int maxNumSeqs, int blocks) {
    ChatModel m = ModelFamilies.load(Goldens.dir(name), Engines.cpu(), Precision.FLOAT32);
    long bytes = m.model().kvBytesPerToken(false) * KvCache.DEFAULT_BLOCK_SIZE * blocks;
    return new LocalChatEngine(m, m.template(), maxNumSeqs, bytes);
  }

  /** A prompt of distinct words, different for each seed. */
  private static String prompt(int words, int seed) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < words; i++) b.append("词").append((i * 7919 + seed * 104729) % 10007).append(' ');
    return b.toString();
  }

  private static CollectingSink submit(LocalChatEngine e, String prompt, int maxTokens) {
    CollectingSink sink = new CollectingSink();
    e.submit(new GenerationRequest("t", PromptInput.ofPrompt(prompt), SamplingParams.greedy(maxTokens), false), sink);
    return sink;
  }

  @Test
  void preemptedSequencesResumeWithTheSameGreedyTokens() {
    String[] prompts = {prompt(12, 1), prompt(20, 2), prompt(9, 3), prompt(16, 4)};
    List<String> alone = new ArrayList<>();
    try (LocalChatEngine roomy = engine("internlm2-tiny", 4, 256)) {
      for (String p : prompts) alone.add(submit(roomy, p, 60).await().text());
      assertThat(roomy.preemptions()).isZero();
    }
    // 24 blocks hold 384 tokens; four sequences of ~60-100 tokens each need more at their ends
    try (LocalChatEngine tight = engine("internlm2-tiny", 4, 24)) {
      List<CollectingSink> sinks = new ArrayList<>();
      for (String p : prompts) sinks.add(submit(tight, p, 60));
      for (int i = 0; i < prompts.length; i++) {
        CollectingSink s = sinks.get(i).await();
        assertThat(s.text()).as("sequence %d", i).isEqualTo(alone.get(i));
        assertThat(s.reason).isEqualTo(FinishReason.LENGTH);
        assertThat(s.completionTokens).isEqualTo(60);
      }
      assertThat(tight.preemptions()).as("preemptions").isPositive();
    }
  }

  @Test
  void aRepeatedPromptIsServedFromThePrefixCacheWithTheSameOutput() {
    try (LocalChatEngine e = engine("chatglm2-tiny", 4, 64)) {
      String p = prompt(40, 5);
      String cold = submit(e, p, 20).await().text();
      long hits = e.pool().hits();
      String warm = submit(e, p, 20).await().text();
      assertThat(e.pool().hits() - hits).as("prompt tokens found in the cache").isGreaterThanOrEqualTo(32);
      assertThat(warm).isEqualTo(cold);
      // the same prompt with a different ending shares the full blocks before the difference
      String longer = submit(e, p + "再见", 20).await().text();
      assertThat(longer).isNotNull();
      assertThat(e.pool().hits()).isGreaterThan(hits + 64);
    }
  }

  @Test
  void withPrefixCachingOffARepeatedPromptIsComputedAgainWithTheSameOutput() {
    ChatModel m = ModelFamilies.load(Goldens.dir("chatglm2-tiny"), Engines.cpu(), Precision.FLOAT32);
    long bytes = m.model().kvBytesPerToken(false) * KvCache.DEFAULT_BLOCK_SIZE * 64;
    try (LocalChatEngine e = new LocalChatEngine(m, m.template(), 4, bytes, "auto", false)) {
      String p = prompt(40, 5);
      String cold = submit(e, p, 20).await().text();
      String again = submit(e, p, 20).await().text();
      assertThat(again).isEqualTo(cold);
      assertThat(e.pool().hits()).isZero();
      assertThat(e.pool().cachedBlocks()).isZero();
    }
  }

  @Test
  void evictsCachedBlocksUnderMemoryPressureAndKeepsServing() {
    try (LocalChatEngine e = engine("internlm2-tiny", 2, 16)) {
      for (int i = 0; i < 12; i++) {
        CollectingSink s = submit(e, prompt(30, 10 + i), 16).await();
        assertThat(s.completionTokens).isEqualTo(16);
      }
      assertThat(e.pool().cachedBlocks()).isLessThanOrEqualTo(16);
      // a sink hears of its end just before the engine releases the blocks
      long deadline = System.nanoTime() + 2_000_000_000L;
      while (e.pool().used() > 0 && System.nanoTime() < deadline) Thread.onSpinWait();
      assertThat(e.pool().used()).isZero();
    }
  }

  /** About 30 s on two cores: prefill attention is quadratic (1.2 G scores for this prompt). */
  @Test
  void aPromptOf24000TokensIsServed() {
    try (LocalChatEngine e = engine("internlm2-tiny", 2, 24_200 / KvCache.DEFAULT_BLOCK_SIZE + 4)) {
      StringBuilder b = new StringBuilder();
      for (int chunk = 0; b.length() < 20_000 || e.countTokens(PromptInput.ofPrompt(b.toString())) < 24_000; chunk++) {
        b.append(prompt(20, chunk));
      }
      String p = b.toString();
      int n = e.countTokens(PromptInput.ofPrompt(p));
      assertThat(n).isBetween(24_000, 24_150);
      CollectingSink s = submit(e, p, 4).await();
      assertThat(s.promptTokens).isEqualTo(n);
      assertThat(s.completionTokens).isEqualTo(4);
    }
  }

  @Test
  void aBfloat16CacheIsRefusedWhereTheAttentionCannotReadIt() {
    ChatModel m = ModelFamilies.load(Goldens.dir("internlm2-tiny"), Engines.cpu(), Precision.FLOAT32);
    try {
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> new LocalChatEngine(m, m.template(), 2, 1 << 20, "bfloat16", true))
          .isInstanceOf(ai.zhiku.common.ZhikuException.class).hasMessageContaining("--kv-cache-dtype bfloat16");
      assertThat(m.model().bf16Cache("auto")).isFalse();
      assertThat(m.model().bf16Cache("float32")).isFalse();
    } finally {
      m.close();
    }
  }
}
