package ai.zhiku.inference.grammar;

import java.util.List;

/**
 * The JSON a grammar accepts at one place, compiled from a JSON Schema. Shapes compare by identity
 * (a schema with {@code $ref} cycles compiles to a graph), so decoding states that hold them stay
 * cheap to compare and hash.
 */
abstract sealed class Shape {

  /** Any JSON value (the values of {@code json_object}, a schema without constraints). */
  static final class AnyValue extends Shape {}

  /**
   * An object. With properties: exactly the declared keys, in the declared order, each at most once,
   * every required one present. Without: any keys, each value of {@code extra}.
   */
  static final class Obj extends Shape {
    final List<Prop> props;
    final Shape extra; // the values of undeclared keys when props is empty
    /**
     * Written as Python keyword arguments, {@code (k=v, k=v)}, instead of {@code {"k":v,"k":v}}: each
     * declared key is then the name followed by {@code =} (ChatGLM3's {@code tool_call(...)}).
     */
    final boolean kwargs;

    Obj(List<Prop> props, Shape extra) {
      this(props, extra, false);
    }

    Obj(List<Prop> props, Shape extra, boolean kwargs) {
      if (kwargs && extra != null) throw new IllegalArgumentException("keyword arguments need declared names");
      this.props = props;
      this.extra = extra;
      this.kwargs = kwargs;
    }

    byte open() { return (byte) (kwargs ? '(' : '{'); }

    byte close() { return (byte) (kwargs ? ')' : '}'); }

    boolean free() { return props.isEmpty() && extra != null; }

    /** Whether the object may end with the properties before {@code pos} written. */
    boolean mayClose(int pos) {
      for (int j = pos; j < props.size(); j++) if (props.get(j).required()) return false;
      return true;
    }

    /** The last property that may come next after {@code pos}: no required one may be skipped. */
    int lastCandidate(int pos) {
      for (int j = pos; j < props.size(); j++) if (props.get(j).required()) return j;
      return props.size() - 1;
    }
  }

  /** @param key the property's name as canonical JSON string bytes, quotes included */
  record Prop(String name, byte[] key, Shape value, boolean required) {}

  static final class Arr extends Shape {
    final Shape items;
    final int min;
    final int max;

    Arr(Shape items, int min, int max) {
      this.items = items;
      this.min = min;
      this.max = max;
    }
  }

  /** A string of {@code min..max} characters. */
  static final class Str extends Shape {
    final int min;
    final int max;

    Str(int min, int max) {
      this.min = min;
      this.max = max;
    }

    boolean counts() { return min > 0 || max != Integer.MAX_VALUE; }
  }

  static final class Num extends Shape {
    final boolean integer;

    Num(boolean integer) { this.integer = integer; }
  }

  /** One of a few exact JSON texts: {@code enum}, {@code const}, booleans, null. */
  static final class Lit extends Shape {
    final byte[][] options;

    Lit(byte[][] options) { this.options = options; }
  }

  static final class AnyOf extends Shape {
    final List<Shape> alternatives;

    AnyOf(List<Shape> alternatives) { this.alternatives = alternatives; }
  }

  /** Its parts one after the other, nothing between them (a call's fixed text around its arguments). */
  static final class Seq extends Shape {
    final List<Shape> parts;

    Seq(List<Shape> parts) { this.parts = parts; }
  }

  /** A {@code $ref}, resolved once the schema it points into is compiled. */
  static final class Ref extends Shape {
    Shape target;
  }
}
