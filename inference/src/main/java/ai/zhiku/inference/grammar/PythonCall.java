package ai.zhiku.inference.grammar;

import ai.zhiku.common.ZhikuException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * ChatGLM3's tool call as a shape: the function's name on its own line, then
 * {@code  ```python\ntool_call(k=v, ...)\n```}, the arguments as Python keyword arguments whose values
 * are Python literals ({@code True}, {@code False}, {@code None}; strings, numbers, lists and dicts
 * as in JSON), exactly as {@code ChatGlm3ToolParser} reads them back.
 */
final class PythonCall {
  private static final ObjectMapper JSON = new ObjectMapper();

  private PythonCall() {}

  /** The call of {@code name} whose arguments are of {@code args}, compiled from the tool's {@code parameters}. */
  static Shape shape(String name, Shape args, String param) {
    if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      throw ZhikuException.invalid("tool_choice", "ChatGLM3 calls a function by a Python name; '" + name + "' is not one");
    }
    Shape target = args;
    while (target instanceof Shape.Ref r) target = r.target;
    if (!(target instanceof Shape.Obj obj) || obj.extra != null) {
      throw ZhikuException.invalid(param, "a forced ChatGLM3 call passes keyword arguments: the parameters must be an object "
          + "schema that declares its properties");
    }
    Map<Shape, Shape> done = new IdentityHashMap<>();
    List<Shape.Prop> props = new ArrayList<>();
    for (Shape.Prop p : obj.props) {
      if (!p.name().matches("[A-Za-z_][A-Za-z0-9_]*")) {
        throw ZhikuException.invalid(param, "a forced ChatGLM3 call passes keyword arguments; '" + p.name() + "' is not a Python name");
      }
      props.add(new Shape.Prop(p.name(), (p.name() + "=").getBytes(StandardCharsets.UTF_8), python(p.value(), done), p.required()));
    }
    return new Shape.Seq(List.of(lit(name + "\n ```python\ntool_call"), new Shape.Obj(props, null, true), lit("\n```")));
  }

  private static Shape.Lit lit(String text) {
    return new Shape.Lit(new byte[][] {text.getBytes(StandardCharsets.UTF_8)});
  }

  /** {@code s} with its literals spelled as Python spells them. */
  private static Shape python(Shape s, Map<Shape, Shape> done) {
    Shape seen = done.get(s);
    if (seen != null) return seen;
    Shape out = switch (s) {
      case Shape.Ref r -> {
        Shape.Ref copy = new Shape.Ref();
        done.put(s, copy);
        copy.target = python(r.target, done);
        yield copy;
      }
      case Shape.AnyValue any -> anyValue();
      case Shape.Obj o -> {
        List<Shape.Prop> props = new ArrayList<>();
        for (Shape.Prop p : o.props) props.add(new Shape.Prop(p.name(), p.key(), python(p.value(), done), p.required()));
        yield new Shape.Obj(props, o.extra == null ? null : python(o.extra, done));
      }
      case Shape.Arr a -> new Shape.Arr(python(a.items, done), a.min, a.max);
      case Shape.AnyOf a -> {
        List<Shape> alts = new ArrayList<>();
        for (Shape x : a.alternatives) alts.add(python(x, done));
        yield new Shape.AnyOf(alts);
      }
      case Shape.Seq q -> {
        List<Shape> parts = new ArrayList<>();
        for (Shape x : q.parts) parts.add(python(x, done));
        yield new Shape.Seq(parts);
      }
      case Shape.Lit l -> {
        byte[][] options = new byte[l.options.length][];
        for (int i = 0; i < options.length; i++) {
          try {
            options[i] = ai.zhiku.inference.tools.PyJson.literal(JSON.readTree(l.options[i])).getBytes(StandardCharsets.UTF_8);
          } catch (java.io.IOException e) {
            throw new IllegalStateException("a literal that is not JSON", e);
          }
        }
        yield new Shape.Lit(options);
      }
      case Shape.Str str -> str;
      case Shape.Num n -> n;
    };
    done.put(s, out);
    return out;
  }

  /** Any Python literal value. */
  private static Shape anyValue() {
    Shape.Ref any = new Shape.Ref();
    any.target = new Shape.AnyOf(List.of(new Shape.Obj(List.of(), any), new Shape.Arr(any, 0, Integer.MAX_VALUE),
        new Shape.Str(0, Integer.MAX_VALUE), new Shape.Num(false),
        new Shape.Lit(new byte[][] {"True".getBytes(StandardCharsets.UTF_8), "False".getBytes(StandardCharsets.UTF_8),
            "None".getBytes(StandardCharsets.UTF_8)})));
    return any;
  }
}
