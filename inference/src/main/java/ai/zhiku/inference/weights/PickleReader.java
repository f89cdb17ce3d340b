package ai.zhiku.inference.weights;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small pickle machine for the {@code data.pkl} of a {@code torch.save} state dict. It knows
 * the opcodes torch writes (protocols 2 to 5) and the few callables a state dict uses
 * ({@code _rebuild_tensor_v2}, {@code _rebuild_parameter}, {@code OrderedDict}); anything else
 * becomes an opaque object, so unknown extras never execute anything.
 */
final class PickleReader {
  /** A tensor view over a storage: element offset, shape and element strides. */
  record TensorRef(String storageKey, TensorDType dtype, long offset, long[] shape, long[] strides) {}

  private record Global(String module, String name) {}

  private record StorageRef(String key, TensorDType dtype) {}

  private record Opaque(String what) {}

  private static final Object MARK = new Object();

  private final ByteBuffer in;
  private final String fileName;
  private final List<Object> stack = new ArrayList<>();
  private final List<Integer> marks = new ArrayList<>();
  private final Map<Long, Object> memo = new HashMap<>();

  PickleReader(ByteBuffer in, String fileName) {
    this.in = in.order(ByteOrder.LITTLE_ENDIAN);
    this.fileName = fileName;
  }

  Object load() {
    try {
      while (true) {
        int op = in.get() & 0xff;
        switch (op) {
          case 0x80 -> in.get(); // PROTO
          case 0x95 -> in.getLong(); // FRAME
          case '.' -> { return pop(); }
          case '}' -> push(new LinkedHashMap<>());
          case ']' -> push(new ArrayList<>());
          case ')' -> push(new Object[0]);
          case 0x8f -> push(new ArrayList<>()); // EMPTY_SET
          case '(' -> { marks.add(stack.size()); push(MARK); }
          case 'q' -> memo.put((long) (in.get() & 0xff), peek());
          case 'r' -> memo.put(Integer.toUnsignedLong(in.getInt()), peek());
          case 0x94 -> memo.put((long) memo.size(), peek());
          case 'h' -> push(memoGet(in.get() & 0xff));
          case 'j' -> push(memoGet(Integer.toUnsignedLong(in.getInt())));
          case 'X' -> push(string(in.getInt()));
          case 0x8c -> push(string(in.get() & 0xff));
          case 0x8d -> push(string(Math.toIntExact(in.getLong())));
          case 'C' -> push(bytes(in.get() & 0xff));
          case 'B' -> push(bytes(in.getInt()));
          case 'c' -> push(new Global(line(), line()));
          case 0x93 -> { Object name = pop(); Object module = pop(); push(new Global((String) module, (String) name)); }
          case 't' -> push(popToMark().toArray());
          case 0x85 -> push(new Object[] {pop()});
          case 0x86 -> { Object b = pop(); Object a = pop(); push(new Object[] {a, b}); }
          case 0x87 -> { Object c = pop(); Object b = pop(); Object a = pop(); push(new Object[] {a, b, c}); }
          case 'Q' -> push(persistent(pop()));
          case 'J' -> push((long) in.getInt());
          case 'K' -> push((long) (in.get() & 0xff));
          case 'M' -> push((long) Short.toUnsignedInt(in.getShort()));
          case 0x8a -> push(longN(in.get() & 0xff));
          case 0x8b -> push(longN(in.getInt()));
          case 'G' -> push(in.order(ByteOrder.BIG_ENDIAN).getDouble()); // BINFLOAT is big-endian
          case 0x88 -> push(Boolean.TRUE);
          case 0x89 -> push(Boolean.FALSE);
          case 'N' -> push(null);
          case 'R' -> { Object args = pop(); Object fn = pop(); push(reduce(fn, (Object[]) args)); }
          case 0x81 -> { Object args = pop(); Object cls = pop(); push(reduce(cls, (Object[]) args)); }
          case 'b' -> pop(); // BUILD: state of an OrderedDict or opaque object; not needed
          case 's' -> { Object v = pop(); Object k = pop(); put(peek(), k, v); }
          case 'u' -> {
            List<Object> items = popToMark();
            Object dict = peek();
            for (int i = 0; i + 1 < items.size(); i += 2) put(dict, items.get(i), items.get(i + 1));
          }
          case 'a' -> { Object v = pop(); append(peek(), v); }
          case 'e', 0x90 -> { List<Object> items = popToMark(); Object list = peek(); for (Object v : items) append(list, v); }
          default -> throw new CheckpointException(fileName + ": unsupported pickle opcode 0x" + Integer.toHexString(op));
        }
        in.order(ByteOrder.LITTLE_ENDIAN);
      }
    } catch (RuntimeException e) {
      if (e instanceof CheckpointException) throw e;
      throw new CheckpointException(fileName + ": damaged data.pkl (" + e + ")", e);
    }
  }

  private Object persistent(Object pid) {
    Object[] t = (Object[]) pid;
    if (t.length >= 3 && "storage".equals(t[0]) && t[1] instanceof Global g) {
      TensorDType dtype = TensorDType.fromTorchStorage(g.name());
      if (dtype == null) throw new CheckpointException(fileName + ": unsupported storage type " + g.module() + "." + g.name());
      return new StorageRef(String.valueOf(t[2]), dtype);
    }
    return new Opaque("persistent id");
  }

  private Object reduce(Object fn, Object[] args) {
    if (!(fn instanceof Global g)) return new Opaque("call");
    String qn = g.module() + "." + g.name();
    switch (qn) {
      case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor" -> {
        StorageRef s = (StorageRef) args[0];
        long offset = (Long) args[1];
        long[] shape = longs((Object[]) args[2]);
        long[] strides = longs((Object[]) args[3]);
        return new TensorRef(s.key(), s.dtype(), offset, shape, strides);
      }
      case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
        return args[0];
      }
      case "collections.OrderedDict" -> {
        return new LinkedHashMap<>();
      }
      default -> {
        return new Opaque(qn);
      }
    }
  }

  private static long[] longs(Object[] a) {
    long[] r = new long[a.length];
    for (int i = 0; i < a.length; i++) r[i] = (Long) a[i];
    return r;
  }

  @SuppressWarnings("unchecked")
  private static void put(Object dict, Object k, Object v) {
    if (dict instanceof Map<?, ?> m) ((Map<Object, Object>) m).put(k, v);
  }

  @SuppressWarnings("unchecked")
  private static void append(Object list, Object v) {
    if (list instanceof List<?> l) ((List<Object>) l).add(v);
  }

  private Object memoGet(long key) {
    if (!memo.containsKey(key)) throw new CheckpointException(fileName + ": damaged data.pkl (memo " + key + ")");
    return memo.get(key);
  }

  private long longN(int n) {
    if (n == 0) return 0;
    if (n > 8) throw new CheckpointException(fileName + ": integer too large in data.pkl");
    long v = 0;
    for (int i = 0; i < n; i++) v |= (long) (in.get() & 0xff) << (8 * i);
    if (n < 8 && (v & (1L << (8 * n - 1))) != 0) v |= -1L << (8 * n); // sign-extend
    return v;
  }

  private String string(int len) {
    byte[] b = new byte[len];
    in.get(b);
    return new String(b, StandardCharsets.UTF_8);
  }

  private byte[] bytes(int len) {
    byte[] b = new byte[len];
    in.get(b);
    return b;
  }

  private String line() {
    StringBuilder sb = new StringBuilder();
    for (byte c = in.get(); c != '\n'; c = in.get()) sb.append((char) c);
    return sb.toString();
  }

  private void push(Object o) { stack.add(o); }

  private Object pop() { return stack.remove(stack.size() - 1); }

  private Object peek() { return stack.get(stack.size() - 1); }

  private List<Object> popToMark() {
    int m = marks.remove(marks.size() - 1);
    List<Object> items = new ArrayList<>(stack.subList(m + 1, stack.size()));
    stack.subList(m, stack.size()).clear();
    return items;
  }
}
