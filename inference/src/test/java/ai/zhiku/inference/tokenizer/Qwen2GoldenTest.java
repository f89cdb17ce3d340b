package ai.zhiku.inference.tokenizer;

import static ai.zhiku.inference.tokenizer.TokenizerGoldenTest.ints;
import static ai.zhiku.inference.tokenizer.TokenizerGoldenTest.strings;
import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.ChatTool;
import ai.zhiku.common.engine.ToolCall;
import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.tools.QwenToolParser;
import ai.zhiku.inference.tools.ToolCallParser;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Qwen2.5's tokenizer and its own chat template (tools included) against the official outputs. */
class Qwen2GoldenTest {
  private static final String DIR = "qwen2-tiny";

  static Qwen2Tokenizer tokenizer() {
    return Qwen2Tokenizer.load(Goldens.dir(DIR), 151936);
  }

  static JinjaTemplate template() {
    return new JinjaTemplate("qwen2", JinjaTemplate.source(Goldens.dir(DIR)), Map.of("eos_token", "<|im_end|>"),
        new QwenToolParser());
  }

  @Test
  void tokenizerMatchesOfficialCode() {
    Qwen2Tokenizer t = tokenizer();
    JsonNode g = Goldens.json(DIR, "tokenizer_golden.json");
    g.get("special_token_ids").fields().forEachRemaining(e -> assertThat(t.addedId(e.getKey())).isEqualTo(e.getValue().asInt()));
    for (JsonNode c : g.get("cases")) {
      String text = c.get("text").asText();
      assertThat(t.tokenize(text)).as("tokens of %s", text).isEqualTo(strings(c.get("tokens")));
      assertThat(t.encode(text, true)).as("ids of %s", text).isEqualTo(ints(c.get("ids")));
      assertThat(t.encode(text, false)).as("ids_no_special of %s", text).isEqualTo(ints(c.get("ids_no_special")));
      assertThat(t.decode(ints(c.get("ids_no_special")), false)).as("decoded %s", text).isEqualTo(c.get("decoded").asText());
      assertThat(t.decode(ints(c.get("ids")), false)).as("decoded_with_special %s", text)
          .isEqualTo(c.get("decoded_with_special").asText());
      assertThat(t.decode(ints(c.get("ids")), true)).as("skip special %s", text)
          .isEqualTo(c.get("decoded_with_special_skip_special_tokens").asText());
    }
    for (JsonNode c : g.get("decode_cases")) {
      assertThat(t.decode(ints(c.get("ids")), false)).as("decode %s", c.get("ids")).isEqualTo(c.get("decoded").asText());
      assertThat(t.decode(ints(c.get("ids")), true)).as("decode skip %s", c.get("ids"))
          .isEqualTo(c.get("decoded_skip_special_tokens").asText());
    }
  }

  /** A golden case's messages and tools as the engine receives them (arguments as JSON text). */
  static ChatMessage message(JsonNode m) {
    String role = m.get("role").asText();
    String content = m.path("content").asText("");
    if (m.has("tool_calls")) {
      List<ToolCall> calls = new ArrayList<>();
      for (JsonNode c : m.get("tool_calls")) {
        JsonNode fn = c.get("function");
        calls.add(new ToolCall(null, fn.get("name").asText(), fn.get("arguments").toString()));
      }
      return ChatMessage.assistantCalls(content, calls);
    }
    return role.equals("tool") ? ChatMessage.toolResult(null, null, content) : new ChatMessage(role, content);
  }

  static List<ChatTool> tools(JsonNode c) {
    List<ChatTool> tools = new ArrayList<>();
    if (c.hasNonNull("tools")) {
      for (JsonNode t : c.get("tools")) tools.add(new ChatTool(t.get("function").get("name").asText(), t.toString()));
    }
    return tools;
  }

  @Test
  void chatTemplateRendersEveryRecordedPromptExactly() {
    Qwen2Tokenizer t = tokenizer();
    JinjaTemplate tpl = template();
    for (JsonNode c : Goldens.json(DIR, "golden.json").get("cases")) {
      List<ChatMessage> ms = new ArrayList<>();
      c.get("messages").forEach(m -> ms.add(message(m)));
      String prompt = tpl.render(ms, tools(c));
      assertThat(prompt).as(c.get("name").asText()).isEqualTo(c.get("prompt").asText());
      assertThat(tpl.encode(ms, tools(c), t)).as(c.get("name").asText()).isEqualTo(ints(c.get("input_ids")));
      assertThat(t.tokenize(prompt)).isEqualTo(strings(c.get("prompt_tokens")));
    }
  }

  @Test
  void batchPromptsUseTheDefaultSystemPrompt() {
    JsonNode b = Goldens.json(DIR, "golden.json").get("batch");
    for (int r = 0; r < 2; r++) {
      String p = template().render(List.of(new ChatMessage("user", b.get("queries").get(r).asText())));
      assertThat(p).isEqualTo(b.get("prompts").get(r).asText());
    }
  }

  @Test
  void toolCallsParseBackAndNeverStreamHalfACall() {
    JsonNode c = Goldens.json(DIR, "golden.json").get("cases").get(6);
    assertThat(c.get("name").asText()).isEqualTo("tool_call_result");
    // the assistant turn as the template renders it is what the model is taught to write
    String prompt = c.get("prompt").asText();
    String turn = prompt.split("<\\|im_start\\|>assistant\n")[1].split("<\\|im_end\\|>")[0];
    ToolCallParser.Parsed p = new QwenToolParser().parse(turn);
    assertThat(p.content()).isNull();
    assertThat(p.calls()).containsExactly(new ToolCall(null, "get_current_temperature",
        "{\"location\": \"San Francisco, CA, USA\", \"unit\": \"celsius\"}"));
    String reply = "Let me check.\n" + turn + "\n" + turn;
    ToolCallParser.Stream s = new ToolCallParser.Stream(new QwenToolParser());
    StringBuilder streamed = new StringBuilder();
    for (int i = 0; i < reply.length(); i += 2) streamed.append(s.push(reply.substring(i, Math.min(reply.length(), i + 2))));
    ToolCallParser.Parsed end = s.finish();
    assertThat(streamed.append(end.content()).toString()).isEqualTo("Let me check.");
    assertThat(end.calls()).hasSize(2);
    // a call cut short is dropped
    assertThat(new QwenToolParser().parse("<tool_call>\n{\"name\": \"get_cur").calls()).isEmpty();
    assertThat(new QwenToolParser().parse("<tool_call>\n{\"name\": \"get_cur").content()).isNull();
    assertThat(new QwenToolParser().stableContent("Hi <tool_")).isEqualTo("Hi");
  }
}
