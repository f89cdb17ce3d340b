package ai.zhiku.common;

import io.vertx.core.net.SocketAddress;
import java.net.URI;

/** Parses FastChat-style addresses ({@code http://host:port} or {@code host:port}). */
public final class Addresses {
  private Addresses() {}

  public static SocketAddress parse(String flag, String address) {
    String s = address.trim();
    try {
      URI uri = URI.create(s.contains("://") ? s : "http://" + s);
      if (uri.getHost() == null || uri.getPort() <= 0) {
        throw new IllegalArgumentException();
      }
      return SocketAddress.inetSocketAddress(uri.getPort(), uri.getHost());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--" + flag + " must look like http://host:port, got '" + address + "'");
    }
  }

  /** The canonical form used as a worker's identity: {@code host:port}. */
  public static String canonical(SocketAddress a) {
    return a.host() + ":" + a.port();
  }
}
