package ai.zhiku.api;

import ai.zhiku.common.ZhikuException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
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

  public static Integer integer(JsonObject o, String field, long min, long max) {
    Long l = longValue(o, field, min, max);
    return l == null ? null : l.intValue();
  }

  public static Long longValue(JsonObject o, String field, long min, long max) {
    Object v = o.getValue(field);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Number n) || (v instanceof Double d && d != Math.rint(d)) || (v instanceof Float f && f != Math.rint(f))) {
      throw ZhikuException.invalid(field, typeMessage(field, v, "an integer"));
    }
    long l = n.longValue();
    if (l < min || l > max) {
      throw ZhikuException.invalid(field, l + " is not valid for '" + field + "': it must be between " + min + " and " + max);
    }
    return l;
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
