package ai.zhiku.inference.tokenizer;

import static ai.zhiku.inference.tokenizer.TokenizerGoldenTest.ints;
import static ai.zhiku.inference.tokenizer.TokenizerGoldenTest.strings;
import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.ChatTool;
import ai.zhiku.common.engine.ToolCall;
import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.tools.ChatGlm3ToolParser;
import ai.zhiku.inference.tools.PyJson;
import ai.zhiku.inference.tools.ToolCallParser;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** ChatGLM3's tokenizer, id-built prompts and tool format against its official code's outputs. */
class ChatGlm3GoldenTest {
  private static final String DIR = "chatglm3-tiny";

  static ChatGlm3Tokenizer tokenizer() {
    return ChatGlm3Tokenizer.load(Goldens.dir(DIR), 65024);
  }

  @Test
  void tokenizerMatchesOfficialCode() {
    ChatGlm3Tokenizer t = tokenizer();
    JsonNode g = Goldens.json(DIR, "tokenizer_golden.json");
    g.get("special_token_ids").fields().forEachRemaining(e -> assertThat(t.specialId(e.getKey())).isEqualTo(e.getValue().asInt()));
    for (JsonNode c : g.get("cases")) {
      String text = c.get("text").asText();
      assertThat(t.tokenize(text)).as("tokens of %s", text).isEqualTo(strings(c.get("tokens")));
      assertThat(t.encode(text, true)).as("ids of %s", text).isEqualTo(ints(c.get("ids")));
      assertThat(t.encode(text, false)).as("ids_no_special of %s", text).isEqualTo(ints(c.get("ids_no_special")));
      assertThat(t.encodeWithRoleTokens(text)).as("encode_special_tokens of %s", text)
          .isEqualTo(ints(c.get("ids_no_special_encode_special_tokens")));
      assertThat(t.decode(ints(c.get("ids_no_special")), false)).as("decoded %s", text).isEqualTo(c.get("decoded").asText());
      assertThat(t.decode(ints(c.get("ids")), false)).as("decoded_with_special %s", text)
          .isEqualTo(c.get("decoded_with_special").asText());
    }
    for (JsonNode c : g.get("decode_cases")) {
      assertThat(t.decode(ints(c.get("ids")), false)).as("decode %s", c.get("ids")).isEqualTo(c.get("decoded").asText());
    }
  }

  /** A golden case's history and query as OpenAI messages and tools. */
  record Chat(List<ChatMessage> messages, List<ChatTool> tools) {}

  static Chat chat(JsonNode c) {
    List<ChatMessage> m = new ArrayList<>();
    List<ChatTool> tools = new ArrayList<>();
    for (JsonNode h : c.get("history")) {
      String role = h.get("role").asText();
      String content = h.get("content").asText();
      if (h.has("tools")) {
        for (JsonNode t : h.get("tools")) tools.add(new ChatTool(t.get("name").asText(), t.toString()));
      }
      String meta = h.path("metadata").asText("");
      if (role.equals("assistant") && !meta.isEmpty()) {
        JsonNode args = argumentsOf(content);
        m.add(ChatMessage.assistantCalls("", List.of(new ToolCall("call_1", meta, PyJson.dumps(args)))));
      } else {
        m.add(new ChatMessage(role, content));
      }
    }
    String role = c.get("role").asText();
    String q = c.get("query").asText();
    m.add(role.equals("observation") ? ChatMessage.toolResult("call_1", null, q) : new ChatMessage(role, q));
    return new Chat(m, tools);
  }

  /** The arguments of a recorded call, read with our parser (checked against the text below). */
  static JsonNode argumentsOf(String content) {
    var parsed = new ChatGlm3ToolParser(true).parse("x\n" + content);
    return PyJson.parse(parsed.calls().get(0).arguments(), "arguments");
  }

  @Test
  void promptIdsAreBuiltAsBuildChatInputDoes() {
    ChatGlm3Tokenizer t = tokenizer();
    ChatTemplate tpl = ChatTemplate.named("chatglm3");
    for (JsonNode c : Goldens.json(DIR, "golden.json").get("cases")) {
      Chat chat = chat(c);
      int[] ids = tpl.encode(chat.messages(), chat.tools(), t);
      assertThat(ids).as(c.get("name").asText()).isEqualTo(ints(c.get("input_ids")));
      assertThat(t.decode(ids, false)).as(c.get("name").asText()).isEqualTo(c.get("prompt_decoded").asText());
    }
  }

  @Test
  void batchRowsAreSingleUserPrompts() {
    ChatGlm3Tokenizer t = tokenizer();
    JsonNode b = Goldens.json(DIR, "golden.json").get("batch");
    for (int r = 0; r < 2; r++) {
      int[] ids = ChatTemplate.named("chatglm3").encode(List.of(new ChatMessage("user", b.get("queries").get(r).asText())), List.of(), t);
      assertThat(java.util.Arrays.copyOfRange(ids, 2, ids.length)).isEqualTo(ints(b.get("prompts").get(r)));
    }
  }

  @Test
  void toolCallRoundTripsThroughTheOfficialFormat() {
    JsonNode tc = Goldens.json(DIR, "golden.json").get("cases").get(6);
    assertThat(tc.get("name").asText()).isEqualTo("tool_observation");
    String recorded = tc.get("history").get(2).get("content").asText();
    // what the model writes after <|assistant|>: the metadata line, then the call
    ToolCallParser.Parsed p = new ChatGlm3ToolParser(true).parse("track\n" + recorded);
    assertThat(p.content()).isNull();
    assertThat(p.calls()).containsExactly(new ToolCall(null, "track", "{\"symbol\": \"10111\"}"));
    assertThat(ChatGlm3ToolParser.render(PyJson.parse(p.calls().get(0).arguments(), "a"))).isEqualTo(recorded);
  }

  @Test
  void parserReadsPlainRepliesAndNeverStreamsPartOfACall() {
    ChatGlm3ToolParser parser = new ChatGlm3ToolParser(true);
    assertThat(parser.parse("\n 你好！").content()).isEqualTo("你好！");
    assertThat(parser.parse("\n 你好！").calls()).isEmpty();
    String reply = "get_weather\n ```python\ntool_call(city='北京', days=3, detail=True, tags=[\"a\", None])\n```";
    ToolCallParser.Stream s = new ToolCallParser.Stream(parser);
    StringBuilder streamed = new StringBuilder();
    for (int i = 0; i < reply.length(); i += 3) streamed.append(s.push(reply.substring(i, Math.min(reply.length(), i + 3))));
    ToolCallParser.Parsed end = s.finish();
    assertThat(streamed.toString()).isEmpty();
    assertThat(end.content()).isEmpty();
    assertThat(end.calls()).containsExactly(new ToolCall(null, "get_weather",
        "{\"city\": \"北京\", \"days\": 3, \"detail\": true, \"tags\": [\"a\", null]}"));
    // a call cut off by the token limit is dropped, not shown
    assertThat(parser.parse("get_weather\n ```python\ntool_call(city='北").calls()).isEmpty();
    assertThat(parser.parse("get_weather\n ```python\ntool_call(city='北").content()).isNull();
    // without tools a metadata line is text
    assertThat(new ChatGlm3ToolParser(false).parse("Title\nbody").content()).isEqualTo("Title\nbody");
    // a plain reply streams as it comes
    ToolCallParser.Stream plain = new ToolCallParser.Stream(parser);
    assertThat(plain.push("\n 你")).isEqualTo("你");
    assertThat(plain.push("好 ")).isEqualTo("好");
    assertThat(plain.finish().content()).isEmpty();
  }
}
