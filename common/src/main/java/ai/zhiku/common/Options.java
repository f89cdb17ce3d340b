package ai.zhiku.common;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Flag values for one command, layered lowest first: defaults (given by the caller of the
 * getters), a YAML file ({@code --config FILE}), environment ({@code ZHIKU_MODEL_PATH} for
 * {@code --model-path}), and the command line. Flags are {@code --name value}, {@code --name=value}
 * or a bare {@code --name} for booleans (followed by another flag or nothing: a bare flag takes the next
 * word as its value); positional words come first. Repeated flags accumulate (see {@link #all}). The one
 * place that reads the environment.
 *
 * <p>{@link #parse} is permissive (tests and benchmarks build options with it); the commands parse with
 * {@link Flags#parse}, which accepts only declared flags. The getters that take a {@link Flag} use its
 * declared default.
 */
public final class Options {
  private final Map<String, List<String>> values;
  private final List<String> positional;
  /** The command's declarations when parsed by {@link Flags} (empty for the permissive {@link #parse}). */
  private final Map<String, Flag> declared;

  private Options(Map<String, List<String>> values, List<String> positional) {
    this(values, positional, Map.of());
  }

  Options(Map<String, List<String>> values, List<String> positional, Map<String, Flag> declared) {
    this.values = values;
    this.positional = positional;
    this.declared = Map.copyOf(declared);
  }

  public static Options parse(String[] args) {
    return parse(args, System.getenv());
  }

  public static Options parse(String[] args, Map<String, String> env) {
    Map<String, List<String>> cli = new LinkedHashMap<>();
    List<String> positional = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.startsWith("--") && a.length() > 2) {
        String name = a.substring(2);
        String value;
        int eq = name.indexOf('=');
        if (eq >= 0) {
          value = name.substring(eq + 1);
          name = name.substring(0, eq);
        } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
          value = args[++i];
        } else {
          value = "true";
        }
        cli.computeIfAbsent(normalize(name), k -> new ArrayList<>()).add(value);
      } else {
        positional.add(a);
      }
    }
    Map<String, List<String>> merged = new LinkedHashMap<>();
    List<String> config = cli.get("config");
    if (config == null && env.get("ZHIKU_CONFIG") != null) {
      config = List.of(env.get("ZHIKU_CONFIG"));
    }
    if (config != null) {
      merged.putAll(readYaml(Path.of(config.getLast())));
    }
    for (Map.Entry<String, String> e : env.entrySet()) {
      if (e.getKey().startsWith("ZHIKU_") && !e.getKey().equals("ZHIKU_CONFIG")) {
        merged.put(normalize(e.getKey().substring(6).toLowerCase(Locale.ROOT)), List.of(e.getValue()));
      }
    }
    merged.putAll(cli);
    return new Options(merged, List.copyOf(positional));
  }

  private static String normalize(String name) {
    return name.replace('_', '-');
  }

  static Map<String, List<String>> readYaml(Path file) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    try (InputStream in = Files.newInputStream(file)) {
      Object root = new Yaml(new SafeConstructor(new LoaderOptions())).load(in);
      if (root == null) {
        return out;
      }
      if (!(root instanceof Map<?, ?> map)) {
        throw new IllegalArgumentException("--config " + file.getFileName() + ": expected a mapping of flag names to values");
      }
      for (Map.Entry<?, ?> e : map.entrySet()) {
        String key = normalize(String.valueOf(e.getKey()));
        List<String> list = new ArrayList<>();
        if (e.getValue() instanceof List<?> l) {
          for (Object o : l) {
            list.add(String.valueOf(o));
          }
        } else if (e.getValue() != null) {
          list.add(String.valueOf(e.getValue()));
        }
        out.put(key, list);
      }
      return out;
    } catch (IOException e) {
      throw new IllegalArgumentException("--config: cannot read " + file + ": " + e.getMessage(), e);
    } catch (org.yaml.snakeyaml.error.YAMLException e) {
      String why = e.getCause() instanceof IOException io ? io.getMessage() : e.getMessage().lines().findFirst().orElse("");
      throw new IllegalArgumentException("--config " + file + " is not a readable YAML mapping (" + why + ")", e);
    }
  }

  public List<String> positional() {
    return positional;
  }

  public boolean has(String name) {
    return values.containsKey(name);
  }

  public String get(String name, String def) {
    List<String> v = values.get(name);
    return v == null || v.isEmpty() ? def : v.getLast();
  }

  /** The values of a flag as given, one per occurrence, without splitting at commas. */
  public List<String> occurrences(String name) {
    return List.copyOf(values.getOrDefault(name, List.of()));
  }

  /** Every value of a repeatable flag; comma-separated values are split. */
  public List<String> all(String name) {
    List<String> out = new ArrayList<>();
    for (String v : values.getOrDefault(name, List.of())) {
      for (String part : v.split(",")) {
        if (!part.isBlank()) {
          out.add(part.trim());
        }
      }
    }
    return out;
  }

  public int getInt(String name, int def) {
    String v = get(name, null);
    if (v == null) {
      return def;
    }
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + name + " must be an integer, got '" + v + "'");
    }
  }

  public long getLong(String name, long def) {
    String v = get(name, null);
    if (v == null) {
      return def;
    }
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + name + " must be an integer, got '" + v + "'");
    }
  }

  public double getDouble(String name, double def) {
    String v = get(name, null);
    if (v == null) {
      return def;
    }
    try {
      return Double.parseDouble(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + name + " must be a number, got '" + v + "'");
    }
  }

  public boolean getBoolean(String name, boolean def) {
    String v = get(name, null);
    if (v == null) {
      return def;
    }
    return switch (v.trim().toLowerCase(Locale.ROOT)) {
      case "true", "yes", "1", "on" -> true;
      case "false", "no", "0", "off" -> false;
      default -> throw new IllegalArgumentException("--" + name + " must be true or false, got '" + v + "'");
    };
  }

  // ---- getters by declaration: the default is the flag's own

  public String get(Flag f) {
    return get(f.name(), f.defaultValue());
  }

  public List<String> all(Flag f) {
    List<String> v = all(f.name());
    if (v.isEmpty() && !values.containsKey(f.name()) && f.defaultValue() != null) {
      return List.of(f.defaultValue().split(","));
    }
    return v;
  }

  public int getInt(Flag f) {
    return getInt(f.name(), f.defaultValue() == null ? 0 : Integer.parseInt(f.defaultValue()));
  }

  public long getLong(Flag f) {
    return getLong(f.name(), f.defaultValue() == null ? 0 : Long.parseLong(f.defaultValue()));
  }

  public double getDouble(Flag f) {
    return getDouble(f.name(), f.defaultValue() == null ? 0 : Double.parseDouble(f.defaultValue()));
  }

  /** Seconds as milliseconds. */
  public long getMillis(Flag f) {
    return Math.round(getDouble(f) * 1000);
  }

  public boolean getBoolean(Flag f) {
    return getBoolean(f.name(), f.defaultValue() != null && Boolean.parseBoolean(f.defaultValue()));
  }

  /** A size in bytes: a plain number or one with a unit (8MiB, 512k). */
  public long getBytes(Flag f) {
    return getBytes(f.name(), f.defaultValue() == null ? 0 : Flag.parseBytes(f.defaultValue()));
  }

  public long getBytes(String name, long def) {
    String v = get(name, null);
    if (v == null) {
      return def;
    }
    long bytes = Flag.parseBytes(v);
    if (bytes < 0) {
      throw new IllegalArgumentException("--" + name + " must be a size in bytes (8388608, 512KiB, 8MiB), got '" + v + "'");
    }
    return bytes;
  }

  /** Whether the command's flags include {@code name} (always true for options parsed without declarations). */
  public boolean declares(String name) {
    return declared.isEmpty() || declared.containsKey(name);
  }
}
