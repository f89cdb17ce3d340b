package ai.zhiku.inference.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.inference.Goldens;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChatTemplateTest {

  static List<ChatMessage> messages(JsonNode c, boolean system) {
    List<ChatMessage> m = new ArrayList<>();
    if (system && c.hasNonNull("meta_instruction") && !c.get("meta_instruction").asText().isEmpty()) {
      m.add(new ChatMessage("system", c.get("meta_instruction").asText()));
    }
    for (JsonNode h : c.get("history")) {
      m.add(new ChatMessage("user", h.get(0).asText()));
      m.add(new ChatMessage("assistant", h.get(1).asText()));
    }
    m.add(new ChatMessage("user", c.get("query").asText()));
    return m;
  }

  @Test
  void chatGlm2PromptsAndIdsMatchGolden() {
    Tokenizer t = ChatGlm2Tokenizer.load(Goldens.dir("chatglm2-tiny"), 65024);
    ChatTemplate tpl = ChatTemplate.named("chatglm2");
    for (JsonNode c : Goldens.json("chatglm2-tiny", "golden.json").get("cases")) {
      String prompt = tpl.render(messages(c, false));
      assertThat(prompt).as(c.get("name").asText()).isEqualTo(c.get("prompt").asText());
      assertThat(t.encode(prompt, true)).isEqualTo(TokenizerGoldenTest.ints(c.get("input_ids")));
    }
  }

  @Test
  void internLm2PromptsAndIdsMatchGolden() {
    Tokenizer t = InternLm2Tokenizer.load(Goldens.dir("internlm2-tiny"), 92544);
    ChatTemplate tpl = ChatTemplate.named("internlm2");
    JsonNode g = Goldens.json("internlm2-tiny", "golden.json");
    assertThat(InternLm2Defaults.META_INSTRUCTION).isEqualTo(g.get("default_meta_instruction").asText());
    for (JsonNode c : g.get("cases")) {
      String name = c.get("name").asText();
      List<ChatMessage> m = messages(c, true);
      // a request without a system message gets the default; "_no_system" cases are rendered with an empty one
      String prompt = name.endsWith("_no_system")
          ? new ChatTemplate.ChatMl("chatml", null).render(m)
          : tpl.render(m.subList(1, m.size()));
      assertThat(prompt).as(name).isEqualTo(c.get("prompt").asText());
      assertThat(t.encode(prompt, true)).as(name).isEqualTo(TokenizerGoldenTest.ints(c.get("input_ids")));
    }
  }

  @Test
  void chatGlm2PutsSystemBeforeTheFirstRound() {
    String p = ChatTemplate.named("chatglm2").render(List.of(
        new ChatMessage("system", "Be brief."), new ChatMessage("user", "你好")));
    assertThat(p).isEqualTo("Be brief.\n\n[Round 1]\n\n问：你好\n\n答：");
  }

  @Test
  void unknownRolesAndTemplatesAreInvalidRequests() {
    assertThatThrownBy(() -> ChatTemplate.named("chatglm2").render(List.of(new ChatMessage("function", "x"))))
        .isInstanceOf(ZhikuException.class).hasMessageContaining("function");
    assertThatThrownBy(() -> ChatTemplate.named("llama9"))
        .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.param()).isEqualTo("chat_template"));
  }

  @Test
  void chatGlm2ToolRoundTripInThePromptBasedFormat() {
    var tool = new ai.zhiku.common.engine.ChatTool("get_weather",
        "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}}");
    var call = new ai.zhiku.common.engine.ToolCall("call_1", "get_weather", "{\"city\":\"北京\"}");
    String p = ChatTemplate.named("chatglm2").render(List.of(new ChatMessage("user", "天气?"),
        ChatMessage.assistantCalls("", List.of(call)), ChatMessage.toolResult("call_1", "get_weather", "晴")), List.of(tool));
    assertThat(p).startsWith("你可以调用以下工具（JSON 描述，每行一个）：\n{\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}\n")
        .endsWith("\n\n[Round 1]\n\n问：天气?\n\n答：<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"北京\"}}\n</tool_call>\n\n"
            + "[Round 2]\n\n问：<tool_response>\n晴\n</tool_response>\n\n答：");
    // what the model writes in that format is read back as the call
    var parsed = ChatTemplate.named("chatglm2").toolParser(List.of(tool))
        .parse("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"北京\"}}\n</tool_call>");
    assertThat(parsed.calls()).extracting(ai.zhiku.common.engine.ToolCall::name).containsExactly("get_weather");
    assertThat(parsed.content()).isNull();
  }
}
