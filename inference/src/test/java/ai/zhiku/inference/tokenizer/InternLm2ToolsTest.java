package ai.zhiku.inference.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.ChatTool;
import ai.zhiku.common.engine.ToolCall;
import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.tools.InternLm2ToolParser;
import ai.zhiku.inference.tools.ToolCallParser;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * InternLM2's plugin format. There is no golden for it (the official code has no tool path in
 * build_inputs); the expected text follows InternLM's chat format documentation as LMDeploy renders
 * it, and the special tokens must come out as their ids.
 */
class InternLm2ToolsTest {
  static final ChatTool WEATHER = new ChatTool("get_current_weather", """
      {"type": "function", "function": {"name": "get_current_weather", "description": "天气",
       "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}""");

  @Test
  void toolsCallsAndResultsUseThePluginBlocks() {
    List<ChatMessage> ms = List.of(
        new ChatMessage("system", "You are InternLM2-Chat."),
        new ChatMessage("user", "上海天气？"),
        ChatMessage.assistantCalls("我来查一下。", List.of(new ToolCall("call_1", "get_current_weather", "{\"location\":\"上海\"}"))),
        ChatMessage.toolResult("call_1", "get_current_weather", "{\"temperature\": 22}"));
    String p = ChatTemplate.named("internlm2").render(ms, List.of(WEATHER));
    assertThat(p).isEqualTo("""
        <|im_start|>system
        You are InternLM2-Chat.<|im_end|>
        <|im_start|>system name=<|plugin|>
        [{"name": "get_current_weather", "description": "天气", "parameters": {"type": "object", "properties": \
        {"location": {"type": "string"}}, "required": ["location"]}}]<|im_end|>
        <|im_start|>user
        上海天气？<|im_end|>
        <|im_start|>assistant
        我来查一下。<|action_start|><|plugin|>
        {"name": "get_current_weather", "parameters": {"location": "上海"}}<|action_end|><|im_end|>
        <|im_start|>environment name=<|plugin|>
        {"temperature": 22}<|im_end|>
        <|im_start|>assistant
        """);
    InternLm2Tokenizer t = InternLm2Tokenizer.load(Goldens.dir("internlm2-tiny"), 92544);
    int[] ids = t.encode(p, true);
    assertThat(ids).contains(92538, 92541, 92540); // <|plugin|> <|action_start|> <|action_end|>
    // without a system message the default one comes first, then the plugins
    String d = ChatTemplate.named("internlm2").render(List.of(new ChatMessage("user", "hi")), List.of(WEATHER));
    assertThat(d).startsWith("<|im_start|>system\n" + InternLm2Defaults.META_INSTRUCTION + "<|im_end|>\n<|im_start|>system name=<|plugin|>\n[");
  }

  @Test
  void parserReadsActionsAndHoldsThemBack() {
    String reply = "我来查一下。<|action_start|><|plugin|>\n{\"name\": \"get_current_weather\", \"parameters\": {\"location\": \"上海\"}}<|action_end|>";
    ToolCallParser.Parsed p = new InternLm2ToolParser().parse(reply);
    assertThat(p.content()).isEqualTo("我来查一下。");
    assertThat(p.calls()).containsExactly(new ToolCall(null, "get_current_weather", "{\"location\": \"上海\"}"));
    ToolCallParser.Stream s = new ToolCallParser.Stream(new InternLm2ToolParser());
    StringBuilder streamed = new StringBuilder();
    for (int i = 0; i < reply.length(); i++) streamed.append(s.push(reply.substring(i, i + 1)));
    ToolCallParser.Parsed end = s.finish();
    assertThat(streamed.append(end.content())).hasToString("我来查一下。");
    assertThat(end.calls()).hasSize(1);
    assertThat(new InternLm2ToolParser().parse("<|action_start|><|plugin|>\n{\"name\": \"x\", \"param").calls()).isEmpty();
  }
}
