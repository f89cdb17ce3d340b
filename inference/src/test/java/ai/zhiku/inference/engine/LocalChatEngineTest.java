package ai.zhiku.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationHandle;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.SamplingParams;
import ai.zhiku.inference.ChatEngineConfig;
import ai.zhiku.inference.ChatEngineFactory;
import ai.zhiku.inference.Goldens;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LocalChatEngineTest {
  private ChatEngine glm;
  private ChatEngine intern;

  @BeforeAll
  void open() {
    glm = ChatEngineFactory.open(new ChatEngineConfig(Goldens.dir("chatglm2-tiny"), "cpu", "float32", null, 4));
    intern = ChatEngineFactory.open(new ChatEngineConfig(Goldens.dir("internlm2-tiny"), "cpu", "float32", null, 4));
  }

  @AfterAll
  void close() {
    glm.close();
    intern.close();
  }

  static List<ChatMessage> messages(JsonNode c, boolean defaultSystem) {
    List<ChatMessage> m = new ArrayList<>();
    for (JsonNode h : c.get("history")) {
      m.add(new ChatMessage("user", h.get(0).asText()));
      m.add(new ChatMessage("assistant", h.get(1).asText()));
    }
    m.add(new ChatMessage("user", c.get("query").asText()));
    return m;
  }

  static boolean allMarginsSafe(JsonNode c) {
    for (JsonNode s : c.get("greedy").get("steps")) if (s.get("margin").asDouble() < 2e-3) return false;
    return true;
  }

  static CollectingSink run(ChatEngine e, PromptInput in, SamplingParams p) {
    CollectingSink sink = new CollectingSink();
    e.submit(new GenerationRequest("t", in, p, false), sink);
    return sink.await();
  }

  static SamplingParams sampling(Float temperature, Integer maxTokens, List<String> stop, Long seed) {
    return new SamplingParams(temperature, null, null, maxTokens, stop, null, null, null, seed);
  }

  @Test
  void greedyRepliesEqualTheOfficialGreedyText() {
    int checked = 0;
    for (JsonNode c : Goldens.json("internlm2-tiny", "golden.json").get("cases")) {
      if (c.get("name").asText().endsWith("_no_system") || !allMarginsSafe(c)) continue;
      CollectingSink s = run(intern, PromptInput.ofMessages(messages(c, true)), SamplingParams.greedy(12));
      assertThat(s.text()).as(c.get("name").asText()).isEqualTo(c.get("greedy").get("text_skip_special_tokens").asText());
      assertThat(s.reason).isEqualTo(FinishReason.LENGTH);
      assertThat(s.completionTokens).isEqualTo(12);
      assertThat(s.promptTokens).isEqualTo(c.get("input_ids").size());
      checked++;
    }
    for (JsonNode c : Goldens.json("chatglm2-tiny", "golden.json").get("cases")) {
      if (c.get("greedy").get("text").isNull() || !allMarginsSafe(c)) continue;
      CollectingSink s = run(glm, PromptInput.ofMessages(messages(c, false)), SamplingParams.greedy(12));
      assertThat(s.text()).as(c.get("name").asText()).isEqualTo(c.get("greedy").get("text").asText());
      checked++;
    }
    assertThat(checked).isGreaterThanOrEqualTo(3);
  }

  @Test
  void streamedChineseTextEqualsTextDecodedAtOnce() {
    // chatglm2 "mixed": greedy output mixes Chinese and English; golden text is the official one-shot decode
    JsonNode c = null;
    for (JsonNode x : Goldens.json("chatglm2-tiny", "golden.json").get("cases")) if (x.get("name").asText().equals("mixed")) c = x;
    CollectingSink s = run(glm, PromptInput.ofMessages(messages(c, false)), SamplingParams.greedy(12));
    assertThat(s.deltas.size()).isGreaterThan(3);
    for (String d : s.deltas) assertThat(d).doesNotContain("\ufffd");
    assertThat(s.text()).isEqualTo(c.get("greedy").get("text").asText()).containsPattern("\\p{IsHan}");
    assertThat(s.tokenCounts.stream().mapToInt(Integer::intValue).sum()).isEqualTo(12);
  }

  @Test
  void stopStringsEndTheReplyAndAreNeverEmitted() {
    PromptInput in = PromptInput.ofMessages(List.of(new ChatMessage("user", "你好")));
    String full = run(intern, in, SamplingParams.greedy(12)).text();
    assertThat(full.length()).isGreaterThan(6);
    String stop = full.substring(3, 6);
    String before = full.substring(0, full.indexOf(stop));
    CollectingSink s = run(intern, in, sampling(0f, 12, List.of(stop, "never-there"), null));
    assertThat(s.text()).isEqualTo(before);
    assertThat(s.reason).isEqualTo(FinishReason.STOP);
    for (String d : s.deltas) assertThat(d).doesNotContain(stop);
  }

  @Test
  void seedMakesSamplingReproducible() {
    PromptInput in = PromptInput.ofPrompt("Once upon a time");
    String a = run(intern, in, sampling(1f, 16, null, 42L)).text();
    String b = run(intern, in, sampling(1f, 16, null, 42L)).text();
    String c = run(intern, in, sampling(1f, 16, null, 7L)).text();
    assertThat(a).isEqualTo(b).isNotEqualTo(c);
  }

  @Test
  void concurrentRequestsGetTheSameRepliesAsAlone() throws Exception {
    List<PromptInput> inputs = List.of(
        PromptInput.ofMessages(List.of(new ChatMessage("user", "你好"))),
        PromptInput.ofMessages(List.of(new ChatMessage("user", "What is the capital of France?"))),
        PromptInput.ofPrompt("1 2 3"));
    List<String> alone = new ArrayList<>();
    for (PromptInput in : inputs) alone.add(run(glm, in, SamplingParams.greedy(10)).text());
    List<CollectingSink> sinks = new ArrayList<>();
    for (PromptInput in : inputs) {
      CollectingSink s = new CollectingSink();
      glm.submit(new GenerationRequest("c", in, SamplingParams.greedy(10), false), s);
      sinks.add(s);
    }
    for (int i = 0; i < inputs.size(); i++) assertThat(sinks.get(i).await().text()).isEqualTo(alone.get(i));
  }

  @Test
  void contextLengthIsCheckedLikeOpenAi() {
    int ctx = glm.info().contextLength();
    assertThatThrownBy(() -> glm.submit(new GenerationRequest("x", PromptInput.ofPrompt("hi"), SamplingParams.greedy(ctx), false), new CollectingSink()))
        .isInstanceOfSatisfying(ZhikuException.class, e -> {
          assertThat(e.code()).isEqualTo("context_length_exceeded");
          assertThat(e.getMessage()).startsWith("This model's maximum context length is " + ctx + " tokens. However, you requested " + (ctx + 3)
              + " tokens (3 in the prompt, " + ctx + " in the completion).");
        });
    assertThatThrownBy(() -> glm.submit(new GenerationRequest("x", PromptInput.ofPrompt("hi"),
        new SamplingParams(3f, null, null, 5, null, null, null, null, null), false), new CollectingSink()))
        .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.param()).isEqualTo("temperature"));
  }

  @Test
  void cancelStopsOutputAndFreesTheSlot() throws Exception {
    CollectingSink s = new CollectingSink();
    GenerationHandle h = intern.submit(new GenerationRequest("c", PromptInput.ofPrompt("a"), SamplingParams.greedy(2000), false), s);
    long deadline = System.currentTimeMillis() + 10_000;
    while (s.deltas.isEmpty() && System.currentTimeMillis() < deadline) Thread.onSpinWait();
    h.cancel();
    h.cancel();
    int seen = s.deltas.size();
    // every slot is usable again: maxNumSeqs further requests all complete
    List<CollectingSink> more = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      CollectingSink m = new CollectingSink();
      intern.submit(new GenerationRequest("m", PromptInput.ofPrompt("b"), SamplingParams.greedy(3), false), m);
      more.add(m);
    }
    for (CollectingSink m : more) assertThat(m.await().completionTokens).isEqualTo(3);
    assertThat(s.finished()).isFalse();
    assertThat(s.deltas.size()).isLessThanOrEqualTo(seen + 1);
  }

  @Test
  void echoSendsThePromptFirst() {
    CollectingSink s = new CollectingSink();
    intern.submit(new GenerationRequest("e", PromptInput.ofPrompt("Hello"), SamplingParams.greedy(2), true), s);
    s.await();
    assertThat(s.deltas.get(0)).isEqualTo("Hello");
    assertThat(s.tokenCounts.get(0)).isZero();
    assertThat(intern.countTokens(PromptInput.ofPrompt("Hello"))).isEqualTo(2);
  }

  @Test
  void longPromptsArePrefilledInChunksWithoutChangingTheReply() {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 400; i++) sb.append(i).append(' ');
    PromptInput longPrompt = PromptInput.ofPrompt(sb.toString());
    assertThat(intern.countTokens(longPrompt)).isGreaterThan(LocalChatEngine.STEP_TOKEN_BUDGET);
    String alone = run(intern, longPrompt, SamplingParams.greedy(6)).text();
    CollectingSink other = new CollectingSink();
    intern.submit(new GenerationRequest("o", PromptInput.ofPrompt("hi"), SamplingParams.greedy(40), false), other);
    CollectingSink together = run(intern, longPrompt, SamplingParams.greedy(6));
    assertThat(together.text()).isEqualTo(alone);
    assertThat(together.promptTokens).isEqualTo(intern.countTokens(longPrompt));
    other.await();
  }
}
