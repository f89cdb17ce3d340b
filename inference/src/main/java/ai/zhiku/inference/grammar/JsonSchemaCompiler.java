package ai.zhiku.inference.grammar;

import ai.zhiku.common.ZhikuException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Compiles a JSON Schema into the {@link Shape} decoding is held to. Supported: {@code type} (one or
 * a list), {@code properties}, {@code required}, {@code additionalProperties}, {@code items},
 * {@code minItems}/{@code maxItems}, {@code enum}, {@code const}, {@code anyOf}, {@code minLength}/
 * {@code maxLength}, local {@code $ref} into {@code $defs}/{@code definitions}; annotations
 * ({@code title}, {@code description}, {@code default}, {@code examples}, {@code format}, ...) are
 * ignored as JSON Schema allows. Any other keyword is refused, naming it: an output that silently
 * broke a constraint would be worse than a clear error.
 *
 * <p>An object with {@code properties} is written with exactly those keys in their declared order
 * (a subset of what {@code additionalProperties: true} allows, and what OpenAI's strict mode does);
 * {@code "properties": {}} alone means {@code {}}, as in strict mode. Only an object schema that
 * declares no {@code properties} at all is free-form.
 */
final class JsonSchemaCompiler {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> ANNOTATIONS = Set.of("title", "description", "default", "examples", "format",
      "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly", "strict", "$defs", "definitions",
      "contentEncoding", "contentMediaType");
  private static final Set<String> KEYWORDS = Set.of("type", "properties", "required", "additionalProperties", "items",
      "minItems", "maxItems", "enum", "const", "anyOf", "minLength", "maxLength", "$ref");

  private final JsonNode root;
  private final String param;
  private final Map<String, Shape.Ref> refs = new HashMap<>();

  private JsonSchemaCompiler(JsonNode root, String param) {
    this.root = root;
    this.param = param;
  }

  /** The shape of {@code schema}; {@code param} names the request field in errors. */
  static Shape compile(JsonNode schema, String param) {
    JsonSchemaCompiler c = new JsonSchemaCompiler(schema, param);
    Shape s = c.shape(schema, "");
    for (boolean more = true; more; ) { // a definition may refer to others not seen yet
      more = false;
      for (Map.Entry<String, Shape.Ref> e : List.copyOf(c.refs.entrySet())) {
        if (e.getValue().target == null) {
          e.getValue().target = c.shape(c.resolve(e.getKey()), e.getKey());
          more = true;
        }
      }
    }
    return s;
  }

  static Shape compile(String schemaJson, String param) {
    JsonNode n;
    try {
      n = JSON.readTree(schemaJson);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw ZhikuException.invalid(param, "the schema is not valid JSON: " + e.getOriginalMessage());
    }
    return compile(n, param);
  }

  private ZhikuException refuse(String where, String why) {
    return ZhikuException.invalid(param, "schema" + (where.isEmpty() ? "" : " at '" + where + "'") + ": " + why);
  }

  private Shape shape(JsonNode s, String where) {
    if (s.isBoolean()) {
      if (s.asBoolean()) return new Shape.AnyValue();
      throw refuse(where, "the schema 'false' accepts nothing");
    }
    if (!s.isObject()) throw refuse(where, "a schema must be an object or a boolean");
    for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!KEYWORDS.contains(k) && !ANNOTATIONS.contains(k)) {
        throw refuse(where, "the keyword '" + k + "' is not supported in constrained decoding (supported: "
            + String.join(", ", new java.util.TreeSet<>(KEYWORDS)) + ")");
      }
    }
    if (s.has("$ref")) return ref(s.get("$ref").asText(), where);
    if (s.has("const")) return literal(List.of(s.get("const")));
    if (s.has("enum")) {
      JsonNode e = s.get("enum");
      if (!e.isArray() || e.isEmpty()) throw refuse(where, "'enum' must be a non-empty array");
      List<JsonNode> values = new ArrayList<>();
      e.forEach(values::add);
      return literal(values);
    }
    if (s.has("anyOf")) {
      JsonNode a = s.get("anyOf");
      if (!a.isArray() || a.isEmpty()) throw refuse(where, "'anyOf' must be a non-empty array");
      List<Shape> alts = new ArrayList<>();
      for (int i = 0; i < a.size(); i++) alts.add(shape(a.get(i), where + "/anyOf/" + i));
      return alts.size() == 1 ? alts.get(0) : new Shape.AnyOf(alts);
    }
    JsonNode type = s.get("type");
    if (type == null) {
      if (s.has("properties") || s.has("additionalProperties") || s.has("required")) return typed("object", s, where);
      if (s.has("items") || s.has("minItems") || s.has("maxItems")) return typed("array", s, where);
      if (s.has("minLength") || s.has("maxLength")) return typed("string", s, where);
      return new Shape.AnyValue();
    }
    if (type.isTextual()) return typed(type.asText(), s, where);
    if (type.isArray() && !type.isEmpty()) {
      List<Shape> alts = new ArrayList<>();
      for (JsonNode t : type) {
        if (!t.isTextual()) throw refuse(where, "'type' must be a string or a list of strings");
        alts.add(typed(t.asText(), s, where));
      }
      return alts.size() == 1 ? alts.get(0) : new Shape.AnyOf(alts);
    }
    throw refuse(where, "'type' must be a string or a list of strings");
  }

  private Shape typed(String type, JsonNode s, String where) {
    return switch (type) {
      case "object" -> object(s, where);
      case "array" -> {
        Shape items = s.has("items") ? shape(s.get("items"), where + "/items") : new Shape.AnyValue();
        int min = count(s, "minItems", 0, where);
        int max = count(s, "maxItems", Integer.MAX_VALUE, where);
        if (min > max) throw refuse(where, "minItems is larger than maxItems");
        yield new Shape.Arr(items, min, max);
      }
      case "string" -> {
        int min = count(s, "minLength", 0, where);
        int max = count(s, "maxLength", Integer.MAX_VALUE, where);
        if (min > max) throw refuse(where, "minLength is larger than maxLength");
        yield new Shape.Str(min, max);
      }
      case "integer" -> new Shape.Num(true);
      case "number" -> new Shape.Num(false);
      case "boolean" -> literal(List.of(JSON.getNodeFactory().booleanNode(true), JSON.getNodeFactory().booleanNode(false)));
      case "null" -> literal(List.of(JSON.getNodeFactory().nullNode()));
      default -> throw refuse(where, "unknown type '" + type + "'");
    };
  }

  private Shape object(JsonNode s, String where) {
    JsonNode props = s.get("properties");
    JsonNode additional = s.get("additionalProperties");
    Set<String> required = new java.util.LinkedHashSet<>();
    if (s.has("required")) {
      if (!s.get("required").isArray()) throw refuse(where, "'required' must be an array of names");
      s.get("required").forEach(r -> required.add(r.asText()));
    }
    if (props == null || props.isEmpty()) {
      if (!required.isEmpty()) throw refuse(where, "'required' names properties that 'properties' does not declare: " + required);
      // declared empty (and nothing said of other keys), or other keys refused: only {}
      if (props != null && additional == null || additional != null && additional.isBoolean() && !additional.asBoolean()) {
        return new Shape.Obj(List.of(), null);
      }
      Shape values = additional == null || additional.isBoolean() ? new Shape.AnyValue() : shape(additional, where + "/additionalProperties");
      return new Shape.Obj(List.of(), values);
    }
    if (!props.isObject()) throw refuse(where, "'properties' must be an object");
    if (additional != null && !additional.isBoolean()) {
      throw refuse(where, "'additionalProperties' with a schema beside 'properties' is not supported (use true or false)");
    }
    List<Shape.Prop> list = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = props.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      byte[] key;
      try {
        key = JSON.writeValueAsBytes(e.getKey());
      } catch (com.fasterxml.jackson.core.JsonProcessingException x) {
        throw new IllegalStateException(x);
      }
      list.add(new Shape.Prop(e.getKey(), key, shape(e.getValue(), where + "/properties/" + e.getKey()), required.remove(e.getKey())));
    }
    if (!required.isEmpty()) throw refuse(where, "'required' names properties that 'properties' does not declare: " + required);
    return new Shape.Obj(List.copyOf(list), null);
  }

  private int count(JsonNode s, String key, int def, String where) {
    JsonNode v = s.get(key);
    if (v == null) return def;
    if (!v.canConvertToExactIntegral() || v.asLong() < 0 || v.asLong() > Integer.MAX_VALUE) {
      throw refuse(where, "'" + key + "' must be a non-negative integer");
    }
    return v.asInt();
  }

  private Shape literal(List<JsonNode> values) {
    byte[][] options = new byte[values.size()][];
    for (int i = 0; i < options.length; i++) {
      try {
        options[i] = JSON.writeValueAsBytes(values.get(i));
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    }
    return new Shape.Lit(options);
  }

  private Shape ref(String ref, String where) {
    if (!ref.startsWith("#")) throw refuse(where, "only local '$ref' (#/$defs/...) is supported, not '" + ref + "'");
    resolve(ref); // refuses a dangling reference now
    return refs.computeIfAbsent(ref, r -> new Shape.Ref());
  }

  private JsonNode resolve(String ref) {
    JsonNode n = ref.equals("#") ? root : root.at(ref.substring(1));
    if (n.isMissingNode()) throw refuse("", "'$ref' " + ref + " points at nothing");
    return n;
  }
}
