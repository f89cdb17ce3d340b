package ai.zhiku.inference.tools;

import ai.zhiku.common.ZhikuException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigDecimal;
import java.util.Iterator;
import java.util.Map;

/**
 * JSON written as Python's {@code json.dumps(value, ensure_ascii=False)} writes it, which is what
 * the families' official code used to put tools and arguments into prompts: separators
 * {@code ", "} and {@code ": "} (or a newline and {@code indent} spaces with {@code indent}), keys
 * in their given order, non-ASCII text as is, floats as Python's {@code repr}. Also the Python
 * literal form of a value ({@code True}, {@code False}, {@code None}) for ChatGLM3's
 * {@code tool_call(...)} lines.
 */
public final class PyJson {
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

  private PyJson() {}

  /** Parses JSON text keeping key order and the numbers' values. */
  public static JsonNode parse(String json, String param) {
    try {
      return JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw ZhikuException.invalid(param, param + " is not valid JSON: " + e.getOriginalMessage());
    }
  }

  /** {@code json.dumps(value, ensure_ascii=False)}. */
  public static String dumps(JsonNode value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value, -1, 0, false);
    return sb.toString();
  }

  /** {@code json.dumps(value, indent=indent, ensure_ascii=False)}. */
  public static String dumps(JsonNode value, int indent) {
    StringBuilder sb = new StringBuilder();
    write(sb, value, indent, 0, false);
    return sb.toString();
  }

  /** The value as a Python literal: JSON with {@code True}, {@code False} and {@code None}. */
  public static String literal(JsonNode value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value, -1, 0, true);
    return sb.toString();
  }

  private static void newline(StringBuilder sb, int indent, int depth) {
    sb.append('\n');
    sb.append(" ".repeat(indent * depth));
  }

  private static void write(StringBuilder sb, JsonNode v, int indent, int depth, boolean python) {
    switch (v.getNodeType()) {
      case OBJECT -> {
        if (v.isEmpty()) {
          sb.append("{}");
          return;
        }
        sb.append('{');
        boolean first = true;
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext();) {
          Map.Entry<String, JsonNode> e = it.next();
          if (!first) sb.append(indent >= 0 ? "," : ", ");
          if (indent >= 0) newline(sb, indent, depth + 1);
          string(sb, e.getKey());
          sb.append(": ");
          write(sb, e.getValue(), indent, depth + 1, python);
          first = false;
        }
        if (indent >= 0) newline(sb, indent, depth);
        sb.append('}');
      }
      case ARRAY -> {
        if (v.isEmpty()) {
          sb.append("[]");
          return;
        }
        sb.append('[');
        for (int i = 0; i < v.size(); i++) {
          if (i > 0) sb.append(indent >= 0 ? "," : ", ");
          if (indent >= 0) newline(sb, indent, depth + 1);
          write(sb, v.get(i), indent, depth + 1, python);
        }
        if (indent >= 0) newline(sb, indent, depth);
        sb.append(']');
      }
      case STRING -> string(sb, v.asText());
      case BOOLEAN -> sb.append(python ? (v.asBoolean() ? "True" : "False") : (v.asBoolean() ? "true" : "false"));
      case NULL, MISSING -> sb.append(python ? "None" : "null");
      case NUMBER -> sb.append(v.isIntegralNumber() ? v.bigIntegerValue().toString() : pyFloat(v.doubleValue()));
      default -> sb.append(v.toString());
    }
  }

  /** Python's {@code repr(float)}: the shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
  static String pyFloat(double d) {
    if (Double.isNaN(d)) return "NaN";
    if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
    if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
    BigDecimal b = new BigDecimal(Double.toString(d)).stripTrailingZeros(); // Java's shortest digits
    String digits = b.unscaledValue().abs().toString();
    int exp = digits.length() - 1 - b.scale(); // decimal exponent of the first digit
    String sign = d < 0 ? "-" : "";
    if (exp < -4 || exp >= 16) {
      String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
      return sign + mant + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }
    String plain = b.abs().toPlainString();
    if (!plain.contains(".")) plain += ".0";
    return sign + plain;
  }

  /** A JSON string literal as Python escapes it with ensure_ascii=False. */
  public static void string(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        default -> {
          if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
          else sb.append(c);
        }
      }
    }
    sb.append('"');
  }
}
