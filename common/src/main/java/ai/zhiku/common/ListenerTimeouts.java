package ai.zhiku.common;

/**
 * How long a listener (the api-server's HTTP port, the worker's and the controller's gRPC ports)
 * waits for a client before closing its connection; see {@link ListenerGuard}.
 *
 * @param headerMs a new connection must send a complete request head within this ({@code --header-timeout})
 * @param bodyMs a request's body must have arrived this long after its head, else 408 and the
 *     connection is closed (an HTTP/2 stream is reset) ({@code --body-timeout})
 * @param idleMs a connection with no request in progress is closed after this ({@code --idle-timeout});
 *     a request being served (a long generation) is never cut by it
 */
public record ListenerTimeouts(long headerMs, long bodyMs, long idleMs) {
  public static final ListenerTimeouts DEFAULTS = new ListenerTimeouts(10_000, 30_000, 90_000);

  public ListenerTimeouts {
    if (headerMs < 100 || bodyMs < 100 || idleMs < 100) {
      throw new IllegalArgumentException("--header-timeout, --body-timeout and --idle-timeout must be at least 0.1 seconds");
    }
  }

  public static ListenerTimeouts from(Options o) {
    return new ListenerTimeouts(
        Math.round(o.getDouble("header-timeout", DEFAULTS.headerMs / 1000.0) * 1000),
        Math.round(o.getDouble("body-timeout", DEFAULTS.bodyMs / 1000.0) * 1000),
        Math.round(o.getDouble("idle-timeout", DEFAULTS.idleMs / 1000.0) * 1000));
  }
}
