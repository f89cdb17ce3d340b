package ai.zhiku.common.engine;

/**
 * OpenAI's {@code response_format}: free text, any JSON object, or JSON that matches a schema. The
 * JSON kinds are enforced while decoding (a token mask per step), not checked afterwards.
 *
 * @param schema the JSON Schema as JSON text for {@link Type#JSON_SCHEMA}, else null
 */
public record ResponseFormat(Type type, String schema) {
  public enum Type { TEXT, JSON_OBJECT, JSON_SCHEMA }

  public static final ResponseFormat TEXT = new ResponseFormat(Type.TEXT, null);
  public static final ResponseFormat JSON_OBJECT = new ResponseFormat(Type.JSON_OBJECT, null);

  public ResponseFormat {
    if ((type == Type.JSON_SCHEMA) != (schema != null)) {
      throw new IllegalArgumentException("a schema goes with type JSON_SCHEMA only");
    }
  }

  public static ResponseFormat jsonSchema(String schema) { return new ResponseFormat(Type.JSON_SCHEMA, schema); }
}
