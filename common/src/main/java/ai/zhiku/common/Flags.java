package ai.zhiku.common;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The flags of one command, declared in one place: {@link #parse} accepts exactly these (refusing an
 * unknown flag with the closest valid one, and a bad value with what it must be) and {@link #help}
 * prints exactly these. Values are layered lowest first: the flag's default, a YAML file
 * ({@code --config FILE}, keys are flag names), the environment ({@code ZHIKU_MODEL_PATH} for
 * {@code --model-path}), the command line. Every layer is checked against the declarations.
 */
public final class Flags {
  public static final Flag CONFIG = Flag.of("config", Flag.Kind.PATH, null,
      "YAML file of flag values (keys are flag names; a list for a repeatable flag); the command line wins");
  public static final Flag VERBOSE = Flag.bool("verbose", "print the stack trace along with a start-up error");

  private final String command;
  private final String summary;
  private final String positional;
  private final Map<String, Flag> flags;
  private final Map<String, Flag> byToken = new LinkedHashMap<>();

  private Flags(String command, String summary, String positional, Map<String, Flag> flags) {
    this.command = command;
    this.summary = summary;
    this.positional = positional;
    this.flags = flags;
    for (Flag f : flags.values()) {
      byToken.put("--" + f.name(), f);
      for (String a : f.aliases()) {
        byToken.put(a.length() == 1 ? "-" + a : "--" + a, f);
      }
    }
  }

  public static Builder builder(String command, String summary) {
    return new Builder(command, summary);
  }

  /** Collects a command's flags; a name added twice keeps its first declaration. */
  public static final class Builder {
    private final String command;
    private final String summary;
    private String positional;
    private final Map<String, Flag> flags = new LinkedHashMap<>();

    private Builder(String command, String summary) {
      this.command = command;
      this.summary = summary;
    }

    /** The words the command takes besides flags, as usage shows them ({@code ingest DIR}); none by default. */
    public Builder positional(String usage) {
      this.positional = usage;
      return this;
    }

    public Builder add(Flag... more) {
      for (Flag f : more) {
        flags.putIfAbsent(f.name(), f);
      }
      return this;
    }

    /** Adds {@code more} except the flags named in {@code except}. */
    public Builder addAll(Collection<Flag> more, String... except) {
      Set<String> skip = Set.of(except);
      for (Flag f : more) {
        if (!skip.contains(f.name())) {
          flags.putIfAbsent(f.name(), f);
        }
      }
      return this;
    }

    /** Replaces the declaration of a flag already added (a different default or help for this command). */
    public Builder replace(Flag f) {
      if (!flags.containsKey(f.name())) {
        throw new IllegalStateException("no flag --" + f.name() + " to replace");
      }
      flags.put(f.name(), f);
      return this;
    }

    public Flags build() {
      return new Flags(command, summary, positional, new LinkedHashMap<>(flags));
    }
  }

  public String command() {
    return command;
  }

  /** The declared flags, in the order {@code --help} lists them. */
  public Collection<Flag> flags() {
    return flags.values();
  }

  /** Every word the parser accepts as a flag: {@code --name} for each flag and each of its aliases. */
  public Set<String> tokens() {
    return Set.copyOf(byToken.keySet());
  }

  public Flag flag(String name) {
    Flag f = flags.get(name);
    if (f == null) {
      throw new IllegalArgumentException("no flag --" + name + " in " + command);
    }
    return f;
  }

  /** Whether the words ask for help ({@code --help} or {@code -h}). */
  public static boolean wantsHelp(String[] args) {
    for (String a : args) {
      if (a.equals("--help") || a.equals("-h")) {
        return true;
      }
      if (a.equals("--")) {
        return false;
      }
    }
    return false;
  }

  public Options parse(String[] args) {
    return parse(args, System.getenv());
  }

  public Options parse(String[] args, Map<String, String> env) {
    Map<String, List<String>> cli = new LinkedHashMap<>();
    List<String> words = new ArrayList<>();
    boolean onlyWords = false;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (onlyWords || !looksLikeFlag(a)) {
        words.add(a);
        continue;
      }
      if (a.equals("--")) {
        onlyWords = true;
        continue;
      }
      String token = a;
      String value = null;
      int eq = a.indexOf('=');
      if (a.startsWith("--") && eq > 2) {
        token = a.substring(0, eq);
        value = a.substring(eq + 1);
      }
      Flag f = byToken.get(token.startsWith("--") ? "--" + token.substring(2).replace('_', '-') : token);
      if (f == null) {
        throw new IllegalArgumentException(unknown(token));
      }
      if (value == null) {
        String next = i + 1 < args.length ? args[i + 1] : null;
        if (f.kind() == Flag.Kind.BOOL) {
          if (next != null && Flag.parseBoolean(next) != null) {
            value = next;
            i++;
          } else {
            value = "true";
          }
        } else if (next != null && !next.startsWith("--")) {
          value = next;
          i++;
        } else {
          throw new IllegalArgumentException(token + " needs a value: " + f.synopsis());
        }
      }
      cli.computeIfAbsent(f.name(), k -> new ArrayList<>()).add(f.check(value));
    }
    if (positional == null && !words.isEmpty()) {
      throw new IllegalArgumentException("unexpected argument '" + words.getFirst() + "': " + invocation()
          + " takes flags only (see " + invocation() + " --help)");
    }

    Map<String, List<String>> merged = new LinkedHashMap<>();
    String config = cli.containsKey("config") ? cli.get("config").getLast() : env.get("ZHIKU_CONFIG");
    if (config != null && flags.containsKey("config")) {
      Path file = Path.of(config);
      for (Map.Entry<String, List<String>> e : Options.readYaml(file).entrySet()) {
        Flag f = byToken.get("--" + e.getKey());
        if (f == null) {
          throw new IllegalArgumentException("--config " + file.getFileName() + ": " + unknown("--" + e.getKey()).replace("unknown flag", "unknown key"));
        }
        List<String> checked = new ArrayList<>();
        for (String v : e.getValue()) {
          checked.add(f.check(v));
        }
        merged.put(f.name(), checked);
      }
    }
    for (Flag f : flags.values()) {
      String var = "ZHIKU_" + f.name().toUpperCase(Locale.ROOT).replace('-', '_');
      String v = env.get(var);
      if (v != null && !f.name().equals("config")) {
        try {
          merged.put(f.name(), List.of(f.check(v)));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(var + " (environment): " + e.getMessage());
        }
      }
    }
    merged.putAll(cli);
    return new Options(merged, List.copyOf(words), flags);
  }

  private static boolean looksLikeFlag(String a) {
    if (a.length() < 2 || a.charAt(0) != '-') {
      return false;
    }
    return !a.matches("-\\d.*"); // a negative number is a value
  }

  private String unknown(String token) {
    String typed = token.replaceFirst("^-+", "");
    List<String> names = new ArrayList<>();
    for (String t : byToken.keySet()) {
      names.add(t.replaceFirst("^-+", ""));
    }
    String hint = Suggest.closest(typed, names).map(n -> "; did you mean " + (n.length() == 1 ? "-" : "--") + n + "?").orElse("");
    return "unknown flag " + token + hint + " (" + invocation() + " --help lists every flag)";
  }

  private String invocation() {
    return "bin/zhiku " + command;
  }

  /** Usage, summary and every flag with its default and meaning. */
  public String help() {
    StringBuilder b = new StringBuilder();
    b.append("usage: ").append(invocation()).append(positional == null ? "" : " " + positional).append(" [flags]\n");
    b.append(indent(summary, "  ")).append("\n\nflags:\n");
    int width = 0;
    for (Flag f : flags.values()) {
      width = Math.max(width, f.synopsis().length());
    }
    width = Math.min(width, 36);
    for (Flag f : flags.values()) {
      String syn = f.synopsis();
      StringBuilder text = new StringBuilder(f.help());
      if (f.defaultText() != null && f.kind() != Flag.Kind.BOOL) {
        text.append(" (default ").append(f.defaultText()).append(')');
      }
      if (f.repeatable()) {
        text.append(" [repeatable]");
      }
      if (!f.aliases().isEmpty()) {
        List<String> shown = new ArrayList<>();
        for (String a : f.aliases()) {
          shown.add(a.length() == 1 ? "-" + a : "--" + a);
        }
        text.append(" (also ").append(String.join(", ", shown)).append(')');
      }
      String head = "  " + syn;
      if (syn.length() > width) {
        b.append(head).append('\n').append(" ".repeat(width + 4));
      } else {
        b.append(head).append(" ".repeat(width - syn.length() + 2));
      }
      b.append(wrap(text.toString(), 100 - width - 4, width + 4)).append('\n');
    }
    b.append("  --help, -h").append(" ".repeat(Math.max(2, width - 8))).append("print this help and exit\n");
    b.append("""

        Every flag can also be set in the YAML file of --config (keys are flag names) or in the environment
        as ZHIKU_<FLAG> (ZHIKU_MODEL_PATH for --model-path); the command line wins.
        """);
    return b.toString();
  }

  private static String indent(String s, String prefix) {
    return prefix + s.replace("\n", "\n" + prefix);
  }

  private static String wrap(String text, int width, int indent) {
    StringBuilder out = new StringBuilder();
    int col = 0;
    for (String word : text.split(" ")) {
      if (col > 0 && col + 1 + word.length() > width) {
        out.append('\n').append(" ".repeat(indent));
        col = 0;
      } else if (col > 0) {
        out.append(' ');
        col++;
      }
      out.append(word);
      col += word.length();
    }
    return out.toString();
  }
}
