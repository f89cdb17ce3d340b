package ai.zhiku.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.SamplingParams;
import ai.zhiku.inference.ChatEngineConfig;
import ai.zhiku.inference.ChatEngineFactory;
import ai.zhiku.inference.Goldens;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NativeMemoryTest {

  @ParameterizedTest
  @ValueSource(strings = {"float32", "bfloat16"})
  void thousandsOfTokensLeaveTheNativeArrayCountFlat(String dtype) {
    try (LocalChatEngine e = (LocalChatEngine) ChatEngineFactory.open(
        new ChatEngineConfig(Goldens.dir("chatglm2-tiny"), "cpu", dtype, null, 4))) {
      PromptInput in = PromptInput.ofMessages(List.of(new ChatMessage("user", "写一首诗")));
      LocalChatEngineTest.run(e, in, SamplingParams.greedy(8)); // warm up
      int before = e.nativeArrayCount();
      int tokens = 0;
      for (int round = 0; round < 5; round++) {
        List<CollectingSink> sinks = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          CollectingSink s = new CollectingSink();
          e.submit(new GenerationRequest("m" + i, in, new SamplingParams(0.8f, 0.9f, 50, 150, null, 0.1f, 0.1f, 1.1f, (long) i), false), s);
          sinks.add(s);
        }
        for (CollectingSink s : sinks) tokens += s.await().completionTokens;
        assertThat(e.nativeArrayCount()).as("after round %d", round).isEqualTo(before);
      }
      assertThat(tokens).isGreaterThan(2000);
    }
  }
}
