package ai.zhiku.common;

import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One command-line flag, declared once: its name, the kind of value it takes, its default and its
 * help. The parser ({@link Flags#parse}) checks values against the kind, {@code --help} prints the
 * declaration, and config readers take defaults from it ({@link Options#get(Flag)}).
 *
 * @param defaultValue the value when the flag is not given (null: none, or computed by the reader)
 * @param defaultText what {@code --help} shows as the default (defaults to {@code defaultValue})
 * @param aliases other names accepted for the same flag (FastChat's, short ones such as {@code -k})
 * @param choices the allowed values of a {@link Kind#CHOICE}
 */
public record Flag(String name, Kind kind, String defaultValue, String defaultText, String help, List<String> aliases,
                   boolean repeatable, List<String> choices) {

  /** The kind of value a flag takes, with the word {@code --help} shows for it. */
  public enum Kind {
    TEXT("TEXT"), INT("N"), LONG("N"), NUMBER("X"), SECONDS("SECONDS"), BOOL(""), BYTES("SIZE"),
    /** bytes ({@code 8GiB}) or a fraction of free memory ({@code 0.4}) */
    MEMORY("SIZE|FRACTION"), PATH("PATH"), LIST("A,B"), URL("URL"), CHOICE("");

    final String metavar;

    Kind(String metavar) {
      this.metavar = metavar;
    }
  }

  private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(i?b?)", Pattern.CASE_INSENSITIVE);

  public Flag {
    aliases = List.copyOf(aliases);
    choices = List.copyOf(choices);
    if (defaultText == null) {
      defaultText = defaultValue;
    }
  }

  public static Flag of(String name, Kind kind, String defaultValue, String help) {
    return new Flag(name, kind, defaultValue, null, help, List.of(), false, List.of());
  }

  public static Flag text(String name, String defaultValue, String help) {
    return of(name, Kind.TEXT, defaultValue, help);
  }

  public static Flag integer(String name, int defaultValue, String help) {
    return of(name, Kind.INT, Integer.toString(defaultValue), help);
  }

  public static Flag bool(String name, String help) {
    return of(name, Kind.BOOL, "false", help);
  }

  public static Flag choice(String name, String defaultValue, String help, String... values) {
    return new Flag(name, Kind.CHOICE, defaultValue, null, help, List.of(), false, List.of(values));
  }

  public Flag alias(String... more) {
    List<String> all = new java.util.ArrayList<>(aliases);
    all.addAll(List.of(more));
    return new Flag(name, kind, defaultValue, defaultText, help, all, repeatable, choices);
  }

  public Flag asRepeatable() {
    return new Flag(name, kind, defaultValue, defaultText, help, aliases, true, choices);
  }

  public Flag shownDefault(String text) {
    return new Flag(name, kind, defaultValue, text, help, aliases, repeatable, choices);
  }

  public Flag withDefault(String value) {
    return new Flag(name, kind, value, value, help, aliases, repeatable, choices);
  }

  public Flag withHelp(String text) {
    return new Flag(name, kind, defaultValue, defaultText, text, aliases, repeatable, choices);
  }

  /** {@code --name METAVAR} as {@code --help} shows it. */
  public String synopsis() {
    String metavar = kind == Kind.CHOICE ? String.join("|", choices) : kind.metavar;
    return "--" + name + (metavar.isEmpty() ? "" : " " + metavar);
  }

  /**
   * Checks one value against the kind; returns it (trimmed) or throws an {@link IllegalArgumentException}
   * that names the flag, the value and what it must be.
   */
  public String check(String value) {
    String v = value.trim();
    String problem = switch (kind) {
      case INT -> parses(() -> Integer.parseInt(v)) ? null : "must be an integer";
      case LONG -> parses(() -> Long.parseLong(v)) ? null : "must be an integer";
      case NUMBER, SECONDS -> parses(() -> {
        double d = Double.parseDouble(v);
        if (!Double.isFinite(d)) {
          throw new NumberFormatException();
        }
      }) ? null : kind == Kind.SECONDS ? "must be a number of seconds" : "must be a number";
      case BOOL -> parseBoolean(v) != null ? null : "must be true or false";
      case BYTES -> parseBytes(v) > 0 ? null : "must be a size in bytes (8388608, 512KiB, 8MiB, 1GiB)";
      case MEMORY -> isFraction(v) || parseBytes(v) > 0 ? null
          : "must be bytes (8GiB, 512MiB, 1073741824) or a fraction of free memory (0.4)";
      case CHOICE -> choices.contains(v) ? null : "must be one of " + String.join(", ", choices);
      case URL, TEXT, PATH, LIST -> null;
    };
    if (problem != null) {
      String hint = kind == Kind.CHOICE ? Suggest.closest(v, choices).map(c -> " (did you mean " + c + "?)").orElse("") : "";
      throw new IllegalArgumentException("--" + name + " " + problem + ", got '" + value + "'" + hint);
    }
    return v;
  }

  private static boolean parses(Runnable r) {
    try {
      r.run();
      return true;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  static boolean isFraction(String v) {
    if (!v.matches("0?\\.\\d+|1(\\.0+)?")) {
      return false;
    }
    return Double.parseDouble(v) > 0;
  }

  /** {@code true}/{@code false} (also yes/no, on/off, 1/0), or null for anything else. */
  public static Boolean parseBoolean(String v) {
    return switch (v.trim().toLowerCase(Locale.ROOT)) {
      case "true", "yes", "1", "on" -> Boolean.TRUE;
      case "false", "no", "0", "off" -> Boolean.FALSE;
      default -> null;
    };
  }

  /** Bytes with an optional binary unit (k, m, g, t; KiB, MB and so on all count in 1024s); -1 when malformed. */
  public static long parseBytes(String v) {
    Matcher m = SIZE.matcher(v.trim());
    if (!m.matches()) {
      return -1;
    }
    int shift = switch (m.group(2).toLowerCase(Locale.ROOT)) {
      case "k" -> 10;
      case "m" -> 20;
      case "g" -> 30;
      case "t" -> 40;
      default -> 0;
    };
    double bytes = Double.parseDouble(m.group(1)) * (1L << shift);
    return bytes >= 1 && bytes < Long.MAX_VALUE ? (long) bytes : -1;
  }
}
