package ai.zhiku.inference.grammar;

import java.util.Arrays;

/**
 * A pushdown automaton over UTF-8 bytes that accepts exactly the compact JSON texts of a
 * {@link Shape} (one optional space after {@code :} and {@code ,}; no other whitespace outside
 * strings, so a model cannot pad forever). A {@link State} is an immutable stack: the top frame
 * is where the text is now, the rest is what follows once that construct is complete. Feeding a
 * byte yields zero or more successor states ({@code anyOf}, numbers and enum values that may end
 * or go on are nondeterministic); a state that consumes an ordinary byte of an unbounded string
 * returns itself, so such states repeat and their token masks are cached.
 */
final class JsonMachine {
  /** Containers nested deeper than this are not opened (a schema-less value could nest forever). */
  static final int MAX_DEPTH = 24;
  /** Digits of a number's integer part, fraction and exponent: bounded so a number ends. */
  static final int MAX_INT_DIGITS = 16;
  static final int MAX_FRACTION_DIGITS = 16;
  static final int MAX_EXPONENT_DIGITS = 2;

  private static final Shape.Str ANY_STRING = new Shape.Str(0, Integer.MAX_VALUE);
  private static final Shape ANY = new Shape.AnyValue();
  private static final Shape.Obj ANY_OBJECT = new Shape.Obj(java.util.List.of(), ANY);
  private static final Shape.Arr ANY_ARRAY = new Shape.Arr(ANY, 0, Integer.MAX_VALUE);
  private static final Shape.Num ANY_NUMBER = new Shape.Num(false);
  private static final Shape.Lit KEYWORDS = new Shape.Lit(new byte[][] {bytes("true"), bytes("false"), bytes("null")});

  private JsonMachine() {}

  static byte[] bytes(String s) { return s.getBytes(java.nio.charset.StandardCharsets.UTF_8); }

  record State(Frame top, State rest, int depth) {}

  sealed interface Frame {}

  /** Nothing more: the text is complete. */
  record End() implements Frame {}

  /** A value of {@code shape} starts here (after one optional space when {@code spaceOk}). */
  record ValueStart(Shape shape, boolean spaceOk) implements Frame {}

  /** Just after {@code {} of an object with declared properties. */
  record ObjOpen(Shape.Obj obj) implements Frame {}

  /** Inside a declared key: {@code offset} bytes of it matched by every candidate property index. */
  record ObjKey(Shape.Obj obj, int offset, Candidates candidates) implements Frame {}

  record ObjColon(Shape.Obj obj, int prop) implements Frame {}

  /** After a value; the properties from {@code pos} on are still to come. */
  record ObjNext(Shape.Obj obj, int pos) implements Frame {}

  record ObjComma(Shape.Obj obj, int pos, boolean spaceOk) implements Frame {}

  record FreeOpen(Shape.Obj obj) implements Frame {}

  record FreeColon(Shape.Obj obj) implements Frame {}

  record FreeNext(Shape.Obj obj) implements Frame {}

  record FreeComma(Shape.Obj obj, boolean spaceOk) implements Frame {}

  /** The parts of a sequence from {@code next} on are still to come. */
  record SeqNext(Shape.Seq seq, int next) implements Frame {}

  record ArrOpen(Shape.Arr arr) implements Frame {}

  record ArrNext(Shape.Arr arr, int count) implements Frame {}

  record ArrComma(Shape.Arr arr, int count, boolean spaceOk) implements Frame {}

  /**
   * Inside a string: {@code length} characters so far (counted only when the shape bounds it),
   * {@code pending} UTF-8 continuation bytes due, {@code escape} 0 none, 1 after a backslash, 2-5
   * the hex digits of a {@code \}{@code u} escape read so far plus 2.
   */
  record StrBody(Shape.Str str, int length, int pending, int escape) implements Frame {}

  /** phase: see {@link #feedNumber}; digits in the current part. */
  record NumState(boolean integer, int phase, int digits) implements Frame {}

  /** Inside one of a literal's options: {@code offset} bytes matched by every candidate. */
  record LitState(Shape.Lit lit, int offset, Candidates candidates) implements Frame {}

  /** A sorted set of indices, compared by value. */
  record Candidates(int[] ids) {
    @Override
    public boolean equals(Object o) { return o instanceof Candidates c && Arrays.equals(ids, c.ids); }

    @Override
    public int hashCode() { return Arrays.hashCode(ids); }
  }

  private static final int NEG = 0, ZERO = 1, INT = 2, DOT = 3, FRAC = 4, EXP_MARK = 5, EXP_SIGN = 6, EXP = 7;

  /** The state before any text of a value of {@code root}. */
  static State initial(Shape root) {
    return new State(new ValueStart(root, false), new State(new End(), null, 0), 0);
  }

  /** Where the accepting text may stop here. */
  static boolean accepting(State s) {
    while (true) {
      if (s.top() instanceof End) return true;
      if (!canEnd(s.top())) return false;
      s = s.rest();
    }
  }

  private static boolean canEnd(Frame f) {
    if (f instanceof NumState n) return n.phase() == ZERO || n.phase() == INT || n.phase() == FRAC || n.phase() == EXP;
    if (f instanceof LitState l) {
      for (int i : l.candidates().ids()) if (l.lit().options[i].length == l.offset()) return true;
    }
    return false;
  }

  /** Collects successor states; duplicates are dropped. */
  static final class Out {
    State[] states = new State[4];
    int size;

    void add(State s) {
      for (int i = 0; i < size; i++) if (states[i] == s || states[i].equals(s)) return;
      if (size == states.length) states = Arrays.copyOf(states, size * 2);
      states[size++] = s;
    }

    void clear() { size = 0; }
  }

  /** The successors of {@code s} after byte {@code b} (0-255). */
  static void feed(State s, int b, Out out) {
    Frame f = s.top();
    State rest = s.rest();
    switch (f) {
      case End e -> { }
      case ValueStart v -> {
        if (b == ' ' && v.spaceOk()) out.add(new State(new ValueStart(v.shape(), false), rest, s.depth()));
        else start(v.shape(), b, rest, out);
      }
      case ObjOpen o -> {
        if (b == o.obj().close() && o.obj().mayClose(0)) out.add(rest);
        else keyStart(o.obj(), 0, b, rest, s.depth(), out);
      }
      case ObjKey k -> feedKey(k, b, rest, s.depth(), out);
      case ObjColon c -> {
        if (b == ':') {
          Shape.Prop p = c.obj().props.get(c.prop());
          out.add(new State(new ValueStart(p.value(), true), new State(new ObjNext(c.obj(), c.prop() + 1), rest, s.depth()), s.depth()));
        }
      }
      case ObjNext n -> {
        if (b == ',' && n.pos() < n.obj().props.size()) out.add(new State(new ObjComma(n.obj(), n.pos(), true), rest, s.depth()));
        else if (b == n.obj().close() && n.obj().mayClose(n.pos())) out.add(rest);
      }
      case ObjComma c -> {
        if (b == ' ' && c.spaceOk()) out.add(new State(new ObjComma(c.obj(), c.pos(), false), rest, s.depth()));
        else keyStart(c.obj(), c.pos(), b, rest, s.depth(), out);
      }
      case FreeOpen o -> {
        if (b == '}') out.add(rest);
        else if (b == '"') out.add(freeKey(o.obj(), rest, s.depth()));
      }
      case FreeColon c -> {
        if (b == ':') out.add(new State(new ValueStart(c.obj().extra, true), new State(new FreeNext(c.obj()), rest, s.depth()), s.depth()));
      }
      case FreeNext n -> {
        if (b == ',') out.add(new State(new FreeComma(n.obj(), true), rest, s.depth()));
        else if (b == '}') out.add(rest);
      }
      case FreeComma c -> {
        if (b == ' ' && c.spaceOk()) out.add(new State(new FreeComma(c.obj(), false), rest, s.depth()));
        else if (b == '"') out.add(freeKey(c.obj(), rest, s.depth()));
      }
      case ArrOpen a -> {
        if (b == ']' && a.arr().min == 0) out.add(rest);
        else if (b != ']' && a.arr().max > 0) start(a.arr().items, b, new State(new ArrNext(a.arr(), 1), rest, s.depth()), out);
      }
      case ArrNext n -> {
        if (b == ',' && n.count() < n.arr().max) out.add(new State(new ArrComma(n.arr(), n.count(), true), rest, s.depth()));
        else if (b == ']' && n.count() >= n.arr().min) out.add(rest);
      }
      case ArrComma c -> {
        if (b == ' ' && c.spaceOk()) out.add(new State(new ArrComma(c.arr(), c.count(), false), rest, s.depth()));
        else start(c.arr().items, b, new State(new ArrNext(c.arr(), c.count() + 1), rest, s.depth()), out);
      }
      case SeqNext q -> start(q.seq().parts.get(q.next()), b, seqRest(q.seq(), q.next() + 1, rest), out);
      case StrBody str -> feedString(s, str, b, rest, out);
      case NumState n -> feedNumber(n, b, rest, s.depth(), out);
      case LitState l -> feedLiteral(l.lit(), l.offset(), l.candidates().ids(), b, rest, s.depth(), out);
    }
  }

  /** A value of {@code shape} whose first byte is {@code b}, continuing with {@code rest}. */
  private static void start(Shape shape, int b, State rest, Out out) {
    int depth = rest.depth() + 1;
    switch (shape) {
      case Shape.Ref r -> start(r.target, b, rest, out);
      case Shape.AnyOf a -> {
        for (Shape alt : a.alternatives) start(alt, b, rest, out);
      }
      case Shape.Obj o -> {
        if (b == o.open() && depth <= MAX_DEPTH) out.add(new State(o.free() ? new FreeOpen(o) : new ObjOpen(o), rest, depth));
      }
      case Shape.Seq q -> start(q.parts.get(0), b, seqRest(q, 1, rest), out);
      case Shape.Arr a -> {
        if (b == '[' && depth <= MAX_DEPTH) out.add(new State(new ArrOpen(a), rest, depth));
      }
      case Shape.Str str -> {
        if (b == '"') out.add(new State(new StrBody(str, 0, 0, 0), rest, depth));
      }
      case Shape.Num n -> {
        if (b == '-') out.add(new State(new NumState(n.integer, NEG, 0), rest, depth));
        else if (b == '0') out.add(new State(new NumState(n.integer, ZERO, 1), rest, depth));
        else if (b >= '1' && b <= '9') out.add(new State(new NumState(n.integer, INT, 1), rest, depth));
      }
      case Shape.Lit l -> {
        int[] all = new int[l.options.length];
        for (int i = 0; i < all.length; i++) all[i] = i;
        feedLiteral(l, 0, all, b, rest, depth, out);
      }
      case Shape.AnyValue any -> {
        switch (b) {
          case '{' -> start(ANY_OBJECT, b, rest, out);
          case '[' -> start(ANY_ARRAY, b, rest, out);
          case '"' -> start(ANY_STRING, b, rest, out);
          case 't', 'f', 'n' -> start(KEYWORDS, b, rest, out);
          default -> start(ANY_NUMBER, b, rest, out);
        }
      }
    }
  }

  /** What follows part {@code next - 1} of a sequence: its next part, or after the last, {@code rest}. */
  private static State seqRest(Shape.Seq q, int next, State rest) {
    return next == q.parts.size() ? rest : new State(new SeqNext(q, next), rest, rest.depth());
  }

  /** The first byte {@code b} of a key, any of the properties from {@code pos} up to the first required one. */
  private static void keyStart(Shape.Obj obj, int pos, int b, State rest, int depth, Out out) {
    int last = obj.lastCandidate(pos);
    if (last < pos) return;
    int[] c = new int[last - pos + 1];
    for (int j = pos; j <= last; j++) c[j - pos] = j;
    feedKey(new ObjKey(obj, 0, new Candidates(c)), b, rest, depth, out);
  }

  private static void feedKey(ObjKey k, int b, State rest, int depth, Out out) {
    int[] c = k.candidates().ids();
    int[] keep = new int[c.length];
    int n = 0;
    for (int j : c) {
      byte[] key = k.obj().props.get(j).key();
      if (key.length > k.offset() && (key[k.offset()] & 0xff) == b) {
        if (key.length == k.offset() + 1) { // keys end with a quote (or '='): no key continues another
          if (k.obj().kwargs) {
            Shape.Prop p = k.obj().props.get(j);
            out.add(new State(new ValueStart(p.value(), false), new State(new ObjNext(k.obj(), j + 1), rest, depth), depth));
          } else {
            out.add(new State(new ObjColon(k.obj(), j), rest, depth));
          }
        } else {
          keep[n++] = j;
        }
      }
    }
    if (n > 0) out.add(new State(new ObjKey(k.obj(), k.offset() + 1, new Candidates(Arrays.copyOf(keep, n))), rest, depth));
  }

  private static State freeKey(Shape.Obj obj, State rest, int depth) {
    return new State(new StrBody(ANY_STRING, 0, 0, 0), new State(new FreeColon(obj), rest, depth), depth + 1);
  }

  private static void feedString(State s, StrBody str, int b, State rest, Out out) {
    Shape.Str shape = str.str();
    boolean counts = shape.counts();
    int len = str.length();
    if (str.escape() == 1) {
      if (b == 'u') out.add(new State(new StrBody(shape, len, 0, 2), rest, s.depth()));
      else if (b == '"' || b == '\\' || b == '/' || b == 'b' || b == 'f' || b == 'n' || b == 'r' || b == 't') {
        out.add(new State(new StrBody(shape, counts ? len + 1 : 0, 0, 0), rest, s.depth()));
      }
      return;
    }
    if (str.escape() >= 2) {
      boolean hex = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
      if (!hex) return;
      if (str.escape() == 5) out.add(new State(new StrBody(shape, counts ? len + 1 : 0, 0, 0), rest, s.depth()));
      else out.add(new State(new StrBody(shape, len, 0, str.escape() + 1), rest, s.depth()));
      return;
    }
    if (str.pending() > 0) {
      if ((b & 0xc0) != 0x80) return;
      out.add(str.pending() == 1 && !counts ? plainString(s, shape, rest) : new State(new StrBody(shape, len, str.pending() - 1, 0), rest, s.depth()));
      return;
    }
    if (b == '"') {
      if (len >= shape.min) out.add(rest);
      return;
    }
    if (b < 0x20 || (counts && len >= shape.max)) return;
    if (b == '\\') {
      out.add(new State(new StrBody(shape, len, 0, 1), rest, s.depth()));
      return;
    }
    int next = counts ? len + 1 : 0;
    if (b < 0x80) {
      out.add(counts ? new State(new StrBody(shape, next, 0, 0), rest, s.depth()) : s);
      return;
    }
    int pending = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
    if (pending > 0) out.add(new State(new StrBody(shape, next, pending, 0), rest, s.depth()));
  }

  /** The plain (uncounted, nothing pending) string state: equal to the one the string started in. */
  private static State plainString(State s, Shape.Str shape, State rest) {
    return new State(new StrBody(shape, 0, 0, 0), rest, s.depth());
  }

  /**
   * phases: NEG after a minus; ZERO a leading 0; INT integer digits; DOT after the point; FRAC
   * fraction digits; EXP_MARK after e/E; EXP_SIGN after its sign; EXP exponent digits.
   */
  private static void feedNumber(NumState n, int b, State rest, int depth, Out out) {
    boolean digit = b >= '0' && b <= '9';
    boolean ends = false;
    switch (n.phase()) {
      case NEG -> {
        if (b == '0') out.add(new State(new NumState(n.integer(), ZERO, 1), rest, depth));
        else if (digit) out.add(new State(new NumState(n.integer(), INT, 1), rest, depth));
      }
      case ZERO, INT -> {
        if (digit && n.phase() == INT && n.digits() < MAX_INT_DIGITS) out.add(new State(new NumState(n.integer(), INT, n.digits() + 1), rest, depth));
        else if (b == '.' && !n.integer()) out.add(new State(new NumState(false, DOT, 0), rest, depth));
        else if ((b == 'e' || b == 'E') && !n.integer()) out.add(new State(new NumState(false, EXP_MARK, 0), rest, depth));
        else ends = !digit;
      }
      case DOT -> {
        if (digit) out.add(new State(new NumState(false, FRAC, 1), rest, depth));
      }
      case FRAC -> {
        if (digit && n.digits() < MAX_FRACTION_DIGITS) out.add(new State(new NumState(false, FRAC, n.digits() + 1), rest, depth));
        else if (b == 'e' || b == 'E') out.add(new State(new NumState(false, EXP_MARK, 0), rest, depth));
        else ends = !digit;
      }
      case EXP_MARK -> {
        if (b == '+' || b == '-') out.add(new State(new NumState(false, EXP_SIGN, 0), rest, depth));
        else if (digit) out.add(new State(new NumState(false, EXP, 1), rest, depth));
      }
      case EXP_SIGN -> {
        if (digit) out.add(new State(new NumState(false, EXP, 1), rest, depth));
      }
      default -> { // EXP
        if (digit && n.digits() < MAX_EXPONENT_DIGITS) out.add(new State(new NumState(false, EXP, n.digits() + 1), rest, depth));
        else ends = !digit;
      }
    }
    if (ends) feed(rest, b, out); // the number is complete: the byte belongs to what follows
  }

  private static void feedLiteral(Shape.Lit lit, int offset, int[] candidates, int b, State rest, int depth, Out out) {
    int[] keep = new int[candidates.length];
    int n = 0;
    boolean complete = false;
    for (int i : candidates) {
      byte[] o = lit.options[i];
      if (o.length == offset) complete = true;
      else if ((o[offset] & 0xff) == b) keep[n++] = i;
    }
    if (complete) feed(rest, b, out); // an option ended before this byte: it belongs to what follows
    if (n == 0) return;
    int[] next = Arrays.copyOf(keep, n);
    boolean allDone = true;
    for (int i : next) if (lit.options[i].length != offset + 1) allDone = false;
    if (allDone) out.add(rest);
    else out.add(new State(new LitState(lit, offset + 1, new Candidates(next)), rest, depth));
  }
}
