package ai.zhiku.inference.tokenizer;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.ChatTool;
import ai.zhiku.common.engine.ToolCall;
import ai.zhiku.inference.tools.PyJson;
import ai.zhiku.inference.tools.ToolCallParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.lib.filter.Filter;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint's own Hugging Face {@code chat_template}, rendered as transformers'
 * {@code apply_chat_template} does: trim_blocks and lstrip_blocks on, one trailing newline of the
 * template dropped (jinja2's keep_trailing_newline=False), {@code tojson} as
 * {@code json.dumps(x, ensure_ascii=False)} (keys in order, ", " and ": " separators), messages as
 * the OpenAI dicts (assistant {@code tool_calls} with their arguments as objects),
 * {@code tools} (null without tools) and {@code add_generation_prompt} true.
 */
public final class JinjaTemplate implements ChatTemplate {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final String name;
  private final String source;
  private final Map<String, Object> specialTokens;
  private final ToolCallParser parser;
  private final Jinjava jinjava;

  /**
   * @param specialTokens template variables such as {@code bos_token} / {@code eos_token}
   * @param parser how replies are read back when tools are offered, or null
   */
  public JinjaTemplate(String name, String source, Map<String, Object> specialTokens, ToolCallParser parser) {
    this.name = name;
    this.source = source.endsWith("\n") ? source.substring(0, source.length() - 1) : source;
    this.specialTokens = Map.copyOf(specialTokens);
    this.parser = parser;
    // Python Jinja's semantics where Jinjava keeps older HubSpot ones: {{- -}} trims, operator
    // precedence, dict keys evaluated, None kept in loops
    LegacyOverrides jinja2 = LegacyOverrides.newBuilder()
        .withUseTrimmingForNotesAndExpressions(true)
        .withParseWhitespaceControlStrictly(true)
        .withUseNaturalOperatorPrecedence(true)
        .withEvaluateMapKeys(true)
        .withKeepNullableLoopValues(true)
        .build();
    this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
        .withFailOnUnknownTokens(false).withLegacyOverrides(jinja2).build());
    jinjava.getGlobalContext().registerFilter(new ToJson());
  }

  @Override
  public String name() { return name; }

  @Override
  public String render(List<ChatMessage> messages, List<ChatTool> tools) {
    if (messages.isEmpty()) throw ZhikuException.invalid("messages", "messages must not be empty");
    Map<String, Object> vars = new HashMap<>(specialTokens);
    List<Object> ms = new ArrayList<>();
    for (ChatMessage m : messages) ms.add(message(m));
    vars.put("messages", ms);
    if (!tools.isEmpty()) {
      List<Object> ts = new ArrayList<>();
      for (ChatTool t : tools) ts.add(java(PyJson.parse(t.json(), "tools")));
      vars.put("tools", ts);
    } else {
      vars.put("tools", null);
    }
    vars.put("add_generation_prompt", true);
    RenderResult r = jinjava.renderForResult(source, vars);
    if (!r.getErrors().isEmpty()) {
      throw ZhikuException.invalid("messages", "the chat template could not render these messages: "
          + r.getErrors().get(0).getMessage());
    }
    return r.getOutput();
  }

  private static Map<String, Object> message(ChatMessage m) {
    if (!List.of("system", "user", "assistant", "tool").contains(m.role())) {
      throw ZhikuException.invalid("messages", "unsupported role '" + m.role() + "'; allowed: system, user, assistant, tool");
    }
    if (m.content() == null) throw ZhikuException.invalid("messages", "message content must not be null");
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("role", m.role());
    out.put("content", m.content());
    if (!m.toolCalls().isEmpty()) {
      List<Object> calls = new ArrayList<>();
      for (ToolCall c : m.toolCalls()) {
        Map<String, Object> fn = new LinkedHashMap<>();
        fn.put("name", c.name());
        String args = c.arguments() == null || c.arguments().isBlank() ? "{}" : c.arguments();
        fn.put("arguments", java(PyJson.parse(args, "messages")));
        Map<String, Object> call = new LinkedHashMap<>();
        if (c.id() != null) call.put("id", c.id());
        call.put("type", "function");
        call.put("function", fn);
        calls.add(call);
      }
      out.put("tool_calls", calls);
    }
    if (m.toolCallId() != null) out.put("tool_call_id", m.toolCallId());
    if (m.name() != null) out.put("name", m.name());
    return out;
  }

  /** JSON as Java values for the template: ordered maps, lists, strings, BigDecimal/BigInteger, booleans, null. */
  static Object java(JsonNode n) {
    return switch (n.getNodeType()) {
      case OBJECT -> {
        Map<String, Object> m = new LinkedHashMap<>();
        n.fields().forEachRemaining(e -> m.put(e.getKey(), java(e.getValue())));
        yield m;
      }
      case ARRAY -> {
        List<Object> l = new ArrayList<>();
        n.forEach(x -> l.add(java(x)));
        yield l;
      }
      case STRING -> n.asText();
      case BOOLEAN -> n.asBoolean();
      case NUMBER -> n.isIntegralNumber() ? (Object) n.bigIntegerValue() : (Object) n.decimalValue();
      default -> null;
    };
  }

  /** Java values back to JSON, for tojson. */
  static JsonNode json(Object o) {
    JsonNodeFactory f = JsonNodeFactory.instance;
    if (o == null) return f.nullNode();
    if (o instanceof Map<?, ?> m) {
      var obj = f.objectNode();
      m.forEach((k, v) -> obj.set(String.valueOf(k), json(v)));
      return obj;
    }
    if (o instanceof Iterable<?> it) {
      var arr = f.arrayNode();
      it.forEach(v -> arr.add(json(v)));
      return arr;
    }
    if (o instanceof Boolean b) return f.booleanNode(b);
    if (o instanceof java.math.BigInteger b) return f.numberNode(b);
    if (o instanceof BigDecimal d) return f.numberNode(d);
    if (o instanceof Double || o instanceof Float) return f.numberNode(((Number) o).doubleValue());
    if (o instanceof Number n) return f.numberNode(n.longValue());
    return f.textNode(String.valueOf(o));
  }

  /** {@code tojson} as transformers defines it: json.dumps(x, ensure_ascii=False[, indent=n]). */
  private static final class ToJson implements Filter {
    @Override
    public String getName() { return "tojson"; }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      JsonNode n = json(var);
      return args.length > 0 && args[0] != null ? PyJson.dumps(n, Integer.parseInt(args[0].trim())) : PyJson.dumps(n);
    }
  }

  @Override
  public ToolCallParser toolParser(List<ChatTool> tools) { return parser; }

  /** The {@code chat_template} of tokenizer_config.json in {@code dir}, or null. */
  public static String source(java.nio.file.Path dir) {
    java.nio.file.Path tc = dir.resolve("tokenizer_config.json");
    if (!java.nio.file.Files.isRegularFile(tc)) return null;
    try {
      JsonNode t = JSON.readTree(tc.toFile()).path("chat_template");
      if (t.isTextual()) return t.asText();
      if (t.isArray()) { // a list of named templates: the default one
        for (JsonNode e : t) if (e.path("name").asText().equals("default")) return e.path("template").asText();
      }
      return null;
    } catch (java.io.IOException e) {
      throw new ai.zhiku.inference.weights.CheckpointException("cannot parse tokenizer_config.json: " + e.getMessage(), e);
    }
  }
}
