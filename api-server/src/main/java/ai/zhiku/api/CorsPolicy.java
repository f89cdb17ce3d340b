package ai.zhiku.api;

import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.HostAndPort;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Which browser origins may call the API ({@code --allowed-origins}). Unset: this server's own origin
 * (the scheme and Host the request came to) and pages on this machine, {@code http(s)://localhost},
 * {@code 127.0.0.1} and {@code [::1]} on any port. {@code *}: every origin, only when given explicitly.
 * A list: those origins and the server's own.
 */
public final class CorsPolicy {
  private static final Pattern LOCAL = Pattern.compile("https?://(localhost|127\\.0\\.0\\.1|\\[::1\\])(:\\d{1,5})?");

  private final boolean anyOrigin;
  private final List<String> listed;

  private CorsPolicy(boolean anyOrigin, List<String> listed) {
    this.anyOrigin = anyOrigin;
    this.listed = listed;
  }

  /** @param configured the {@code --allowed-origins} values; empty: own origin and local pages only */
  public static CorsPolicy of(List<String> configured) {
    List<String> origins = configured.stream().map(o -> stripSlash(o.trim()).toLowerCase(Locale.ROOT))
        .filter(o -> !o.isEmpty()).toList();
    return new CorsPolicy(origins.contains("*"), origins);
  }

  /** Every origin is allowed: the {@code Access-Control-Allow-Origin} answer is {@code *}. */
  public boolean anyOrigin() {
    return anyOrigin;
  }

  /** Whether a page on {@code origin} may call this server, asked through {@code request}. */
  public boolean allows(String origin, HttpServerRequest request) {
    if (anyOrigin) {
      return true;
    }
    String o = stripSlash(origin.trim()).toLowerCase(Locale.ROOT);
    if (o.equals(ownOrigin(request))) {
      return true;
    }
    return listed.isEmpty() ? LOCAL.matcher(o).matches() : listed.contains(o);
  }

  /** {@code scheme://host[:port]} of the request as the client addressed it, or null without a Host. */
  static String ownOrigin(HttpServerRequest request) {
    HostAndPort self = request.authority();
    if (self == null) {
      return null;
    }
    return (request.scheme() + "://" + self.host() + (self.port() >= 0 ? ":" + self.port() : "")).toLowerCase(Locale.ROOT);
  }

  private static String stripSlash(String origin) {
    return origin.endsWith("/") ? origin.substring(0, origin.length() - 1) : origin;
  }
}
