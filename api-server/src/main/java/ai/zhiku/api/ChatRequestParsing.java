package ai.zhiku.api;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.protocol.ChatMessage;
import ai.zhiku.protocol.ResponseFormat;
import ai.zhiku.protocol.Tool;
import ai.zhiku.protocol.ToolCall;
import ai.zhiku.protocol.ToolChoice;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The parts of a chat completion request beyond sampling, as OpenAI defines them: messages (with
 * assistant tool calls and tool results), tools, tool_choice, response_format, logprobs and
 * logit_bias. Everything is checked here, with OpenAI's parameter names in the errors.
 */
final class ChatRequestParsing {
  private static final Set<String> ROLES = Set.of("system", "user", "assistant", "developer", "tool");
  /** OpenAI's limit on tools per request. */
  static final int MAX_TOOLS = 128;
  static final int MAX_TOP_LOGPROBS = 20;
  private static final Pattern FUNCTION_NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");

  private ChatRequestParsing() {}

  static List<ChatMessage> messages(JsonObject body) {
    Object raw = body.getValue("messages");
    if (raw == null) {
      throw ZhikuException.invalid("messages", "'messages' is a required property");
    }
    if (!(raw instanceof JsonArray arr)) {
      throw ZhikuException.invalid("messages", Json.typeMessage("messages", raw, "an array"));
    }
    if (arr.isEmpty()) {
      throw ZhikuException.invalid("messages", "[] is too short - 'messages'");
    }
    List<ChatMessage> out = new ArrayList<>(arr.size());
    for (int i = 0; i < arr.size(); i++) {
      String where = "messages[" + i + "]";
      if (!(arr.getValue(i) instanceof JsonObject m)) {
        throw ZhikuException.invalid(where, Json.typeMessage(where, arr.getValue(i), "an object"));
      }
      Object roleValue = m.getValue("role");
      if (!(roleValue instanceof String role) || !ROLES.contains(role)) {
        throw ZhikuException.invalid(where + ".role", "Invalid value for '" + where
            + ".role': expected one of 'system', 'user', 'assistant', 'tool', 'developer'.");
      }
      ChatMessage.Builder b = ChatMessage.newBuilder().setRole(role.equals("developer") ? "system" : role);
      if (role.equals("assistant") && m.getValue("tool_calls") != null) {
        b.addAllToolCalls(historyCalls(m.getValue("tool_calls"), where + ".tool_calls"));
      }
      if (role.equals("tool")) {
        String id = Json.string(m, "tool_call_id", false);
        if (id == null) {
          throw ZhikuException.invalid(where + ".tool_call_id", "'" + where + ".tool_call_id' is required for role 'tool'");
        }
        b.setToolCallId(id);
        String name = Json.string(m, "name", false);
        if (name != null) b.setName(name);
      }
      b.setContent(contentText(m.getValue("content"), where + ".content", role));
      out.add(b.build());
    }
    return out;
  }

  private static List<ToolCall> historyCalls(Object v, String where) {
    if (!(v instanceof JsonArray calls)) {
      throw ZhikuException.invalid(where, Json.typeMessage(where, v, "an array"));
    }
    List<ToolCall> out = new ArrayList<>();
    for (int j = 0; j < calls.size(); j++) {
      String at = where + "[" + j + "]";
      if (!(calls.getValue(j) instanceof JsonObject c)) {
        throw ZhikuException.invalid(at, Json.typeMessage(at, calls.getValue(j), "an object"));
      }
      String type = Json.string(c, "type", false);
      if (type != null && !type.equals("function")) {
        throw ZhikuException.invalid(at + ".type", "only tool calls of type 'function' are supported");
      }
      JsonObject fn = Json.object(c, "function");
      if (fn == null) throw ZhikuException.invalid(at + ".function", "'" + at + ".function' is a required property");
      String name = Json.string(fn, "name", true);
      String args = Json.string(fn, "arguments", true);
      try {
        if (!(io.vertx.core.json.Json.decodeValue(args) instanceof JsonObject)) throw new IllegalArgumentException();
      } catch (RuntimeException e) {
        throw ZhikuException.invalid(at + ".function.arguments", "'" + at + ".function.arguments' must be a JSON object encoded as a string");
      }
      String id = Json.string(c, "id", false);
      out.add(ToolCall.newBuilder().setId(id == null ? "" : id).setName(name).setArguments(args).build());
    }
    return out;
  }

  static String contentText(Object content, String where, String role) {
    if (content == null) {
      if (role.equals("assistant")) {
        return "";
      }
      throw ZhikuException.invalid(where, "'" + where + "' is required for role '" + role + "'");
    }
    if (content instanceof String s) {
      return s;
    }
    if (content instanceof JsonArray parts) {
      StringBuilder sb = new StringBuilder();
      for (int j = 0; j < parts.size(); j++) {
        if (!(parts.getValue(j) instanceof JsonObject part)) {
          throw ZhikuException.invalid(where, "each part of '" + where + "' must be an object");
        }
        Object type = part.getValue("type");
        if (!"text".equals(type)) {
          throw ZhikuException.invalid(where + "[" + j + "].type", "content part type '" + type + "' is not supported by this model; only 'text' is");
        }
        if (!(part.getValue("text") instanceof String text)) {
          throw ZhikuException.invalid(where + "[" + j + "].text", "'" + where + "[" + j + "].text' must be a string");
        }
        if (!sb.isEmpty()) {
          sb.append('\n');
        }
        sb.append(text);
      }
      return sb.toString();
    }
    throw ZhikuException.invalid(where, Json.typeMessage(where, content, "a string or an array of content parts"));
  }

  static List<Tool> tools(JsonObject body) {
    Object v = body.getValue("tools");
    if (v == null) return List.of();
    if (!(v instanceof JsonArray arr)) throw ZhikuException.invalid("tools", Json.typeMessage("tools", v, "an array"));
    if (arr.size() > MAX_TOOLS) {
      throw ZhikuException.invalid("tools", "'tools' takes at most " + MAX_TOOLS + " tools, got " + arr.size());
    }
    List<Tool> out = new ArrayList<>();
    Set<String> names = new java.util.HashSet<>();
    for (int i = 0; i < arr.size(); i++) {
      String where = "tools[" + i + "]";
      if (!(arr.getValue(i) instanceof JsonObject t)) throw ZhikuException.invalid(where, Json.typeMessage(where, arr.getValue(i), "an object"));
      if (!"function".equals(t.getValue("type"))) {
        throw ZhikuException.invalid(where + ".type", "Invalid value for '" + where + ".type': only 'function' is supported.");
      }
      JsonObject fn = Json.object(t, "function");
      if (fn == null) throw ZhikuException.invalid(where + ".function", "'" + where + ".function' is a required property");
      String name = Json.string(fn, "name", true);
      if (!FUNCTION_NAME.matcher(name).matches()) {
        throw ZhikuException.invalid(where + ".function.name", "Invalid '" + where + ".function.name': '" + name
            + "'. Expected a string of letters, digits, underscores and dashes, 1 to 64 long.");
      }
      if (!names.add(name)) throw ZhikuException.invalid(where + ".function.name", "two tools are named '" + name + "'");
      Json.string(fn, "description", false);
      Object params = fn.getValue("parameters");
      if (params != null && !(params instanceof JsonObject)) {
        throw ZhikuException.invalid(where + ".function.parameters", Json.typeMessage(where + ".function.parameters", params, "an object"));
      }
      out.add(Tool.newBuilder().setName(name).setJson(t.encode()).build());
    }
    return out;
  }

  static ToolChoice toolChoice(JsonObject body, List<Tool> tools) {
    Object v = body.getValue("tool_choice");
    boolean parallel = Json.bool(body, "parallel_tool_calls", true);
    ToolChoice.Builder b = ToolChoice.newBuilder().setParallel(parallel);
    if (v == null) return b.setMode(tools.isEmpty() ? ToolChoice.Mode.MODE_NONE : ToolChoice.Mode.MODE_AUTO).build();
    if (tools.isEmpty()) {
      throw ZhikuException.invalid("tool_choice", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.");
    }
    if (v instanceof String s) {
      return switch (s) {
        case "none" -> b.setMode(ToolChoice.Mode.MODE_NONE).build();
        case "auto" -> b.setMode(ToolChoice.Mode.MODE_AUTO).build();
        case "required" -> b.setMode(ToolChoice.Mode.MODE_REQUIRED).build();
        default -> throw ZhikuException.invalid("tool_choice", "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or a function.");
      };
    }
    if (v instanceof JsonObject o) {
      if (!"function".equals(o.getValue("type"))) {
        throw ZhikuException.invalid("tool_choice.type", "Invalid value for 'tool_choice.type': only 'function' is supported.");
      }
      JsonObject fn = Json.object(o, "function");
      if (fn == null) throw ZhikuException.invalid("tool_choice.function", "'tool_choice.function' is a required property");
      String name = Json.string(fn, "name", true);
      if (tools.stream().noneMatch(t -> t.getName().equals(name))) {
        throw ZhikuException.invalid("tool_choice.function.name", "tool_choice names the function '" + name + "', which is not among the tools");
      }
      return b.setMode(ToolChoice.Mode.MODE_FUNCTION).setFunction(name).build();
    }
    throw ZhikuException.invalid("tool_choice", Json.typeMessage("tool_choice", v, "a string or an object"));
  }

  static ResponseFormat responseFormat(JsonObject body) {
    JsonObject f = Json.object(body, "response_format");
    if (f == null) return ResponseFormat.getDefaultInstance();
    String type = Json.string(f, "type", true);
    return switch (type) {
      case "text" -> ResponseFormat.getDefaultInstance();
      case "json_object" -> ResponseFormat.newBuilder().setType(ResponseFormat.Type.TYPE_JSON_OBJECT).build();
      case "json_schema" -> {
        JsonObject js = Json.object(f, "json_schema");
        if (js == null) throw ZhikuException.invalid("response_format.json_schema", "'response_format.json_schema' is a required property");
        Json.string(js, "name", true);
        Json.string(js, "description", false);
        Json.bool(js, "strict", false);
        JsonObject schema = Json.object(js, "schema");
        yield ResponseFormat.newBuilder().setType(ResponseFormat.Type.TYPE_JSON_SCHEMA)
            .setSchema(schema == null ? "{}" : schema.encode()).build();
      }
      default -> throw ZhikuException.invalid("response_format.type", "Invalid value for 'response_format.type': expected 'text', 'json_object' or 'json_schema'.");
    };
  }

  /** Chat's {@code logprobs} + {@code top_logprobs}: null for none, else how many alternatives. */
  static Integer chatLogprobs(JsonObject body) {
    boolean on = Json.bool(body, "logprobs", false);
    Integer top = Json.integer(body, "top_logprobs", 0, MAX_TOP_LOGPROBS);
    if (top != null && !on) {
      throw ZhikuException.invalid("top_logprobs", "'top_logprobs' needs 'logprobs' to be true");
    }
    return on ? (top == null ? 0 : top) : null;
  }

  /** {@code logit_bias}: token id (as a string key) to a bias in [-100, 100]. */
  static Map<Integer, Float> logitBias(JsonObject body) {
    JsonObject o = Json.object(body, "logit_bias");
    if (o == null) return Map.of();
    if (o.size() > 1024) throw ZhikuException.invalid("logit_bias", "'logit_bias' takes at most 1024 tokens");
    Map<Integer, Float> out = new HashMap<>();
    for (String k : o.fieldNames()) {
      int id;
      try {
        id = Integer.parseInt(k);
      } catch (NumberFormatException e) {
        throw ZhikuException.invalid("logit_bias", "Invalid key in 'logit_bias': '" + k + "' is not a token id");
      }
      Float bias = Json.number(o, k, -100, 100);
      if (bias == null) throw ZhikuException.invalid("logit_bias", "'logit_bias' values must be numbers between -100 and 100");
      out.put(id, bias);
    }
    return out;
  }
}
