package ai.zhiku.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.ChatTool;
import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.ResponseFormat;
import ai.zhiku.common.engine.SamplingParams;
import ai.zhiku.common.engine.ToolCall;
import ai.zhiku.common.engine.ToolChoice;
import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.KvCache;
import ai.zhiku.inference.model.ModelFamilies;
import ai.zhiku.inference.model.Precision;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Constrained sequences inside continuous batching, beside unconstrained ones: each keeps its own
 * grammar state, sampled (temperature 1) as well as greedy, and the unconstrained ones decode as
 * they would alone.
 */
class ConstrainedEngineTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String PARAMS = "{\"type\":\"object\",\"properties\":{\"city\":{\"enum\":[\"北京\",\"上海\"]},\"days\":{\"type\":\"integer\"}},"
      + "\"required\":[\"city\",\"days\"]}";
  static final List<ChatTool> TOOLS = List.of(
      new ChatTool("get_weather", "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":" + PARAMS + "}}"),
      new ChatTool("get_time", "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}"));

  static final class CallSink extends CollectingSink {
    final List<ToolCall> calls = new CopyOnWriteArrayList<>();

    @Override
    public void onToolCalls(List<ToolCall> c) { calls.addAll(c); }
  }

  static GenerationRequest request(String id, PromptInput in, Float temperature, Long seed, ToolChoice choice, ResponseFormat format) {
    return new GenerationRequest(id, in, new SamplingParams(temperature, null, null, 100, List.of(), null, null, null, seed), false,
        choice, format, -1, Map.of());
  }

  @Test
  void constrainedAndFreeSequencesShareABatch() throws Exception {
    for (String family : List.of("internlm2-tiny", "qwen2-tiny", "chatglm3-tiny")) {
      ChatModel m = ModelFamilies.load(Goldens.dir(family), Engines.cpu(), Precision.FLOAT32);
      try (LocalChatEngine e = new LocalChatEngine(m, m.template(), 16, m.model().kvBytesPerToken(false) * KvCache.DEFAULT_BLOCK_SIZE * 256)) {
        PromptInput chat = PromptInput.ofMessages(List.of(new ChatMessage("user", "北京明天天气怎么样?")), TOOLS);
        PromptInput plain = PromptInput.ofPrompt("你好");
        CollectingSink alone = new CollectingSink();
        e.submit(request("alone", plain, 0f, null, ToolChoice.AUTO, ResponseFormat.TEXT), alone);
        alone.await();
        List<CallSink> calls = new ArrayList<>();
        List<CollectingSink> json = new ArrayList<>();
        List<CollectingSink> free = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          CallSink c = new CallSink();
          e.submit(request("call" + i, chat, i % 2 == 0 ? 1f : 0f, (long) i, new ToolChoice(ToolChoice.Mode.REQUIRED, null, true), ResponseFormat.TEXT), c);
          calls.add(c);
          CollectingSink j = new CollectingSink();
          e.submit(request("json" + i, PromptInput.ofPrompt("JSON:"), 1f, (long) i, ToolChoice.AUTO, ResponseFormat.jsonSchema(PARAMS)), j);
          json.add(j);
          CollectingSink f = new CollectingSink();
          e.submit(request("free" + i, plain, 0f, null, ToolChoice.AUTO, ResponseFormat.TEXT), f);
          free.add(f);
        }
        for (CallSink c : calls) {
          c.await();
          assertThat(c.reason).as(family + " " + c.text()).isEqualTo(FinishReason.TOOL_CALLS);
          assertThat(c.calls).hasSize(1);
          assertThat(c.text()).isEmpty();
          ToolCall call = c.calls.get(0);
          var args = JSON.readTree(call.arguments());
          if (call.name().equals("get_weather")) {
            assertThat(args.get("city").asText()).isIn("北京", "上海");
            assertThat(args.get("days").canConvertToExactIntegral()).isTrue();
          } else {
            assertThat(call.name()).isEqualTo("get_time");
            assertThat(args.size()).isZero();
          }
        }
        for (CollectingSink j : json) {
          j.await();
          assertThat(j.reason).isEqualTo(FinishReason.STOP);
          assertThat(JSON.readTree(j.text()).get("city").asText()).isIn("北京", "上海");
        }
        for (CollectingSink f : free) assertThat(f.await().text()).isEqualTo(alone.text());
      }
    }
  }
}
