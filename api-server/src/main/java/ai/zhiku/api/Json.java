package ai.zhiku.api;

import ai.zhiku.common.ZhikuException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/** Typed reads of request fields; a value of the wrong type is a 400 that names the field. */
public final class Json {
  private Json() {}

  public static String string(JsonObject o, String field, boolean required) {
    Object v = o.getValue(field);
    if (v == null) {
      if (required) {
        throw ZhikuException.invalid(field, "'" + field + "' is a required property");
      }
      return null;
    }
    if (!(v instanceof String s)) {
      throw ZhikuException.invalid(field, typeMessage(field, v, "a string"));
    }
    return s;
  }

  public static Float number(JsonObject o, String field, double min, double max) {
    Object v = o.getValue(field);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Number n)) {
      throw ZhikuException.invalid(field, typeMessage(field, v, "a number"));
    }
    double d = n.doubleValue();
    if (Double.isNaN(d) || d < min || d > max) {
      throw ZhikuException.invalid(field, d + " is not valid for '" + field + "': it must be between " + fmt(min) + " and " + fmt(max));
    }
    return (float) d;
  }

  public static Integer integer(JsonObject o, String field, int min, int max) {
    Object v = o.getValue(field);
    return v == null ? null : (int) boundedInteger(v, field, min, max);
  }

  public static Long longValue(JsonObject o, String field, long min, long max) {
    Object v = o.getValue(field);
    return v == null ? null : boundedInteger(v, field, min, max);
  }

  /**
   * A JSON number read as an integer in [min, max], or a 400 naming {@code field}. The one place
   * request integers are read: it never wraps (Jackson hands numbers beyond a long over as
   * BigInteger, and {@code Number.longValue()} / {@code JsonObject.getInteger} would keep their
   * low bits, so 18446744073709551617 would read as 1), refuses fractions (1.5, 1e-3) but accepts
   * integral floats (2.0), and refuses NaN and infinities.
   */
  public static long boundedInteger(Object v, String field, long min, long max) {
    long l;
    if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
      l = ((Number) v).longValue();
    } else if (v instanceof BigInteger b) {
      if (b.bitLength() > 63) {
        throw outOfRange(field, b.toString(), min, max);
      }
      l = b.longValueExact();
    } else if (v instanceof BigDecimal d) {
      BigInteger b;
      try {
        b = d.toBigIntegerExact();
      } catch (ArithmeticException fraction) {
        throw ZhikuException.invalid(field, typeMessage(field, v, "an integer"));
      }
      return boundedInteger(b, field, min, max);
    } else if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      if (Double.isNaN(d) || Double.isInfinite(d) || d != Math.rint(d)) {
        throw ZhikuException.invalid(field, typeMessage(field, v, "an integer"));
      }
      // 2^63 is the first double above Long.MAX_VALUE; below -2^63 none are longs either
      if (d >= 0x1p63 || d < -0x1p63) {
        throw outOfRange(field, BigDecimal.valueOf(d).toBigInteger().toString(), min, max);
      }
      l = (long) d;
    } else {
      throw ZhikuException.invalid(field, typeMessage(field, v, "an integer"));
    }
    if (l < min || l > max) {
      throw outOfRange(field, Long.toString(l), min, max);
    }
    return l;
  }

  private static ZhikuException outOfRange(String field, String shown, long min, long max) {
    if (shown.length() > 40) {
      shown = shown.substring(0, 37) + "...";
    }
    String range = min == Long.MIN_VALUE && max == Long.MAX_VALUE ? "a signed 64-bit integer"
        : "between " + min + " and " + max;
    return ZhikuException.invalid(field, shown + " is not valid for '" + field + "': it must be " + range);
  }

  public static boolean bool(JsonObject o, String field, boolean def) {
    Object v = o.getValue(field);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Boolean b)) {
      throw ZhikuException.invalid(field, typeMessage(field, v, "a boolean"));
    }
    return b;
  }

  public static JsonObject object(JsonObject o, String field) {
    Object v = o.getValue(field);
    if (v == null) {
      return null;
    }
    if (!(v instanceof JsonObject j)) {
      throw ZhikuException.invalid(field, typeMessage(field, v, "an object"));
    }
    return j;
  }

  /** {@code stop}: a string or a list of up to 4 strings. */
  public static List<String> stop(JsonObject o) {
    Object v = o.getValue("stop");
    List<String> out = new ArrayList<>();
    if (v == null) {
      return out;
    }
    if (v instanceof String s) {
      if (!s.isEmpty()) {
        out.add(s);
      }
      return out;
    }
    if (v instanceof JsonArray a) {
      if (a.size() > 4) {
        throw ZhikuException.invalid("stop", "'stop' takes at most 4 sequences, got " + a.size());
      }
      for (Object e : a) {
        if (!(e instanceof String s)) {
          throw ZhikuException.invalid("stop", "'stop' must be a string or a list of strings");
        }
        if (!s.isEmpty()) {
          out.add(s);
        }
      }
      return out;
    }
    throw ZhikuException.invalid("stop", typeMessage("stop", v, "a string or a list of strings"));
  }

  public static String typeMessage(String field, Object v, String expected) {
    String shown = v instanceof String ? "'" + v + "'" : String.valueOf(v);
    if (shown.length() > 60) {
      shown = shown.substring(0, 57) + "...";
    }
    return shown + " is not of type " + expected + " - '" + field + "'";
  }

  private static String fmt(double d) {
    return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
  }
}
