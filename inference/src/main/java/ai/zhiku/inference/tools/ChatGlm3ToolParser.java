package ai.zhiku.inference.tools;

import ai.zhiku.common.engine.ToolCall;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/**
 * ChatGLM3's replies, as its official {@code process_response} reads them. A reply is one or more
 * parts separated by {@code <|assistant|>}; each part is a metadata line, then the content. An
 * empty metadata line is a plain answer (content stripped of surrounding whitespace). With tools
 * offered, a metadata line naming a function is a call: the content is a fenced block whose
 * inner line is {@code tool_call(name=value, ...)} with Python literal values, turned into a JSON
 * object. Without tools a part with metadata is shown as text.
 */
public final class ChatGlm3ToolParser implements ToolCallParser {
  private static final String ASSISTANT = "<|assistant|>";
  private final boolean toolsOffered;

  public ChatGlm3ToolParser(boolean toolsOffered) {
    this.toolsOffered = toolsOffered;
  }

  @Override
  public Parsed parse(String raw) {
    StringBuilder content = new StringBuilder();
    List<ToolCall> calls = new ArrayList<>();
    for (String part : raw.split(java.util.regex.Pattern.quote(ASSISTANT), -1)) {
      int nl = part.indexOf('\n');
      String metadata = nl < 0 ? "" : part.substring(0, nl);
      String body = nl < 0 ? part : part.substring(nl + 1);
      if (metadata.isBlank()) {
        String c = body.strip();
        if (!c.isEmpty()) content.append(content.isEmpty() ? "" : "\n").append(c);
      } else if (toolsOffered) {
        JsonNode args = arguments(body);
        if (args != null) calls.add(new ToolCall(null, metadata.strip(), PyJson.dumps(args)));
      } else {
        String c = part.strip();
        if (!c.isEmpty()) content.append(content.isEmpty() ? "" : "\n").append(c);
      }
    }
    return new Parsed(content.isEmpty() ? null : content.toString(), calls);
  }

  @Override
  public String stableContent(String raw) {
    int cut = raw.indexOf(ASSISTANT);
    String first = cut >= 0 ? raw.substring(0, cut) : raw.substring(0, raw.length() - ToolCallParser.partialMarker(raw, ASSISTANT));
    int nl = first.indexOf('\n');
    if (nl < 0) return "";
    String metadata = first.substring(0, nl);
    if (!metadata.isBlank()) return toolsOffered ? "" : first.strip();
    return first.substring(nl + 1).strip();
  }

  /**
   * The keyword arguments of the {@code tool_call(...)} line inside a call's fenced block
   * (the lines between the first and the last), or null when it is not such a call.
   */
  static JsonNode arguments(String body) {
    String[] lines = body.split("\n", -1);
    String inner = lines.length >= 3 ? String.join("\n", java.util.Arrays.copyOfRange(lines, 1, lines.length - 1)) : body;
    try {
      return new PyLiteral(inner.strip()).call();
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  @Override
  public ToolCallFormat callFormat() { return toolsOffered ? ToolCallFormat.chatGlm3() : null; }

  /** Writes a call's arguments as ChatGLM3's model writes them: {@code  ```python\ntool_call(k=v, ...)\n```}. */
  public static String render(JsonNode arguments) {
    StringBuilder sb = new StringBuilder(" ```python\ntool_call(");
    boolean first = true;
    for (var it = arguments.fields(); it.hasNext();) {
      var e = it.next();
      if (!first) sb.append(", ");
      sb.append(e.getKey()).append('=').append(PyJson.literal(e.getValue()));
      first = false;
    }
    return sb.append(")\n```").toString();
  }

  /** A small reader of {@code tool_call(k=literal, ...)}: strings, numbers, True/False/None, lists, tuples, dicts. */
  private static final class PyLiteral {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private final String s;
    private int i;

    PyLiteral(String s) { this.s = s; }

    ObjectNode call() {
      expectWord("tool_call");
      skip();
      expect('(');
      ObjectNode out = F.objectNode();
      skip();
      while (peek() != ')') {
        int start = i;
        while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) i++;
        if (start == i) throw new IllegalArgumentException("argument name expected at " + i);
        String name = s.substring(start, i);
        skip();
        expect('=');
        out.set(name, value());
        skip();
        if (peek() == ',') {
          i++;
          skip();
        } else if (peek() != ')') {
          throw new IllegalArgumentException("',' or ')' expected at " + i);
        }
      }
      i++;
      skip();
      if (i != s.length()) throw new IllegalArgumentException("text after the call");
      return out;
    }

    private JsonNode value() {
      skip();
      char c = peek();
      if (c == '"' || c == '\'') return F.textNode(string());
      if (c == '[' || c == '(') {
        char close = c == '[' ? ']' : ')';
        i++;
        ArrayNode a = F.arrayNode();
        skip();
        while (peek() != close) {
          a.add(value());
          skip();
          if (peek() == ',') {
            i++;
            skip();
          } else if (peek() != close) {
            throw new IllegalArgumentException("',' expected at " + i);
          }
        }
        i++;
        return a;
      }
      if (c == '{') {
        i++;
        ObjectNode o = F.objectNode();
        skip();
        while (peek() != '}') {
          JsonNode k = value();
          if (!k.isTextual()) throw new IllegalArgumentException("dict keys must be strings");
          skip();
          expect(':');
          o.set(k.asText(), value());
          skip();
          if (peek() == ',') {
            i++;
            skip();
          } else if (peek() != '}') {
            throw new IllegalArgumentException("',' expected at " + i);
          }
        }
        i++;
        return o;
      }
      if (s.startsWith("True", i)) { i += 4; return F.booleanNode(true); }
      if (s.startsWith("False", i)) { i += 5; return F.booleanNode(false); }
      if (s.startsWith("None", i)) { i += 4; return F.nullNode(); }
      if (s.startsWith("true", i)) { i += 4; return F.booleanNode(true); }
      if (s.startsWith("false", i)) { i += 5; return F.booleanNode(false); }
      if (s.startsWith("null", i)) { i += 4; return F.nullNode(); }
      int start = i;
      if (c == '-' || c == '+') i++;
      while (i < s.length() && "0123456789.eE+-_".indexOf(s.charAt(i)) >= 0) i++;
      String num = s.substring(start, i).replace("_", "");
      if (num.isEmpty() || num.equals("-") || num.equals("+")) throw new IllegalArgumentException("value expected at " + start);
      try {
        if (num.matches("[+-]?\\d+")) return F.numberNode(new BigInteger(num));
        return F.numberNode(new BigDecimal(num));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad number " + num);
      }
    }

    private String string() {
      char q = s.charAt(i++);
      StringBuilder sb = new StringBuilder();
      while (true) {
        if (i >= s.length()) throw new IllegalArgumentException("unterminated string");
        char c = s.charAt(i++);
        if (c == q) return sb.toString();
        if (c != '\\') {
          sb.append(c);
          continue;
        }
        if (i >= s.length()) throw new IllegalArgumentException("unterminated string");
        char e = s.charAt(i++);
        switch (e) {
          case 'n' -> sb.append('\n');
          case 't' -> sb.append('\t');
          case 'r' -> sb.append('\r');
          case 'b' -> sb.append('\b');
          case 'f' -> sb.append('\f');
          case '0' -> sb.append('\0');
          case 'u' -> {
            if (i + 4 > s.length()) throw new IllegalArgumentException("bad \\u escape");
            sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
            i += 4;
          }
          default -> sb.append(e);
        }
      }
    }

    private char peek() {
      if (i >= s.length()) throw new IllegalArgumentException("unexpected end");
      return s.charAt(i);
    }

    private void skip() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
    }

    private void expect(char c) {
      if (peek() != c) throw new IllegalArgumentException("'" + c + "' expected at " + i);
      i++;
    }

    private void expectWord(String w) {
      if (!s.startsWith(w, i)) throw new IllegalArgumentException(w + " expected");
      i += w.length();
    }
  }
}
