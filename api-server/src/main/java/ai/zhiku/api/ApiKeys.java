package ai.zhiku.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The API keys a server accepts, each stored as its SHA-256 digest with its scopes. Keys of
 * {@code --api-keys} are admin; a keys file ({@code --api-keys-file}) has one key a line:
 * {@code sha256:HEX  scope[,scope...]}, blank lines and lines starting with {@code #} ignored.
 */
public final class ApiKeys {
  private static final Pattern HASH = Pattern.compile("sha256:[0-9a-fA-F]{64}");

  private record Entry(byte[] digest, Access access) {}

  private final List<Entry> entries;

  private ApiKeys(List<Entry> entries) {
    this.entries = List.copyOf(entries);
  }

  /** The keys of the config; IllegalArgumentException (one sentence, with the line number) for a malformed file. */
  public static ApiKeys of(ApiServerConfig config) {
    List<Entry> out = new ArrayList<>();
    for (String k : config.apiKeys()) {
      out.add(new Entry(sha256(k), Access.ALL));
    }
    if (config.apiKeysFile() != null) {
      Path file = Path.of(config.apiKeysFile());
      List<String> lines;
      try {
        lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new IllegalArgumentException("--api-keys-file " + file + " cannot be read: " + e.getMessage());
      }
      for (int i = 0; i < lines.size(); i++) {
        Entry e = parseLine(lines.get(i).strip(), file, i + 1);
        if (e != null) {
          out.add(e);
        }
      }
    }
    return new ApiKeys(out);
  }

  private static Entry parseLine(String line, Path file, int number) {
    if (line.isEmpty() || line.startsWith("#")) {
      return null;
    }
    String where = "line " + number + " of --api-keys-file " + file;
    String[] parts = line.split("\\s+", 2);
    if (!HASH.matcher(parts[0]).matches()) {
      throw new IllegalArgumentException(where + " must start with sha256: and the 64 hex digits of the key's SHA-256.");
    }
    if (parts.length < 2 || parts[1].isBlank()) {
      throw new IllegalArgumentException(where + " has no scopes after the hash (admin, chat, metrics, kb:read:NAME, kb:write:NAME).");
    }
    List<Scope> scopes = new ArrayList<>();
    for (String s : parts[1].split("[,\\s]+")) {
      if (s.isEmpty()) {
        continue;
      }
      try {
        scopes.add(Scope.parse(s));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + " has an " + e.getMessage() + ".");
      }
    }
    return new Entry(HexFormat.of().parseHex(parts[0].substring("sha256:".length()).toLowerCase()), new Access(scopes));
  }

  public boolean isEmpty() {
    return entries.isEmpty();
  }

  public int size() {
    return entries.size();
  }

  /** The access of a presented key, or null for an unknown one. Every entry is compared, in constant time each. */
  public Access lookup(String key) {
    byte[] given = sha256(key);
    Access found = null;
    for (Entry e : entries) {
      if (MessageDigest.isEqual(e.digest, given) && found == null) {
        found = e.access;
      }
    }
    return found;
  }

  static byte[] sha256(String key) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
