package ai.zhiku.inference.grammar;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatTool;
import ai.zhiku.common.engine.ResponseFormat;
import ai.zhiku.inference.tokenizer.Tokenizer;
import ai.zhiku.inference.tools.ToolCallFormat;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's constrained-decoding formats: {@code json_object}, a JSON Schema, or a forced tool call
 * in the family's own call format. Compiled grammars (and their mask caches) are kept per format,
 * so every sequence asking for the same schema shares them. The vocabulary trie is built on first
 * use. Thread-safe.
 */
public final class Grammars {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int KEEP = 64;

  private final Tokenizer tokenizer;
  private final int[] stopIds;
  private volatile TokenTrie trie;
  private final Map<String, Grammar> compiled = java.util.Collections.synchronizedMap(new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Grammar> e) { return size() > KEEP; }
  });

  public Grammars(Tokenizer tokenizer, int[] stopIds) {
    this.tokenizer = tokenizer;
    this.stopIds = stopIds.clone();
  }

  private TokenTrie trie() {
    TokenTrie t = trie;
    if (t == null) {
      synchronized (this) {
        if (trie == null) trie = new TokenTrie(tokenizer);
        t = trie;
      }
    }
    return t;
  }

  /** A constraint for {@code response_format}, or null for text. Refuses an unsupported schema (400). */
  public Constraint forFormat(ResponseFormat format) {
    return switch (format.type()) {
      case TEXT -> null;
      case JSON_OBJECT -> new Constraint(grammar("json_object", () -> new Shape.Obj(List.of(), new Shape.AnyValue()), "", ""));
      case JSON_SCHEMA -> new Constraint(grammar("schema:" + format.schema(),
          () -> JsonSchemaCompiler.compile(format.schema(), "response_format.json_schema.schema"), "", ""));
    };
  }

  /** Checks a schema without building a constraint (the worker refuses bad ones before queueing). */
  public static void check(ResponseFormat format) {
    if (format.type() == ResponseFormat.Type.JSON_SCHEMA) JsonSchemaCompiler.compile(format.schema(), "response_format.json_schema.schema");
  }

  /**
   * A constraint that makes the reply one call, in {@code format}, of {@code function} (or of any of
   * the tools when null), its arguments valid for that tool's {@code parameters} schema.
   */
  public Constraint forToolCall(ToolCallFormat format, List<ChatTool> tools, String function) {
    List<ChatTool> chosen = new ArrayList<>();
    for (ChatTool t : tools) if (function == null || t.name().equals(function)) chosen.add(t);
    if (chosen.isEmpty()) {
      throw ZhikuException.invalid("tool_choice", "tool_choice names the function '" + function + "', which is not among the tools");
    }
    StringBuilder key = new StringBuilder("tools:").append(format).append('\u0000');
    for (ChatTool t : chosen) key.append(t.json()).append('\u0000');
    return new Constraint(grammar(key.toString(), () -> toolShape(format, chosen, tools), format.prefix(), format.suffix()));
  }

  private static Shape toolShape(ToolCallFormat format, List<ChatTool> chosen, List<ChatTool> all) {
    List<Shape> alternatives = new ArrayList<>();
    for (ChatTool t : chosen) {
      JsonNode entry;
      try {
        entry = JSON.readTree(t.json());
      } catch (java.io.IOException e) {
        throw ZhikuException.invalid("tools", "a tool is not valid JSON");
      }
      JsonNode params = entry.path("function").path("parameters");
      String param = "tools[" + all.indexOf(t) + "].function.parameters";
      Shape args = params.isMissingNode() || params.isNull()
          ? new Shape.Obj(List.of(), null) // no parameters: {}
          : JsonSchemaCompiler.compile(params, param);
      if (format.glmPython()) {
        alternatives.add(PythonCall.shape(t.name(), args, param));
        continue;
      }
      Shape name;
      try {
        name = new Shape.Lit(new byte[][] {JSON.writeValueAsBytes(t.name())});
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
      alternatives.add(new Shape.Obj(List.of(prop(format.nameKey(), name), prop(format.argumentsKey(), args)), null));
    }
    return alternatives.size() == 1 ? alternatives.get(0) : new Shape.AnyOf(alternatives);
  }

  private static Shape.Prop prop(String name, Shape value) {
    try {
      return new Shape.Prop(name, JSON.writeValueAsBytes(name), value, true);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private Grammar grammar(String key, java.util.function.Supplier<Shape> shape, String prefix, String suffix) {
    Grammar g = compiled.get(key);
    if (g != null) return g;
    Shape s = shape.get(); // may refuse the schema: nothing is cached then
    g = new Grammar(trie(), s, ids(prefix), ids(suffix), stopIds);
    compiled.put(key, g);
    return g;
  }

  private int[] ids(String text) {
    return text.isEmpty() ? new int[0] : tokenizer.encode(text, false);
  }
}
