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
  public static final Flag HEADER_TIMEOUT = Flag.of("header-timeout", Flag.Kind.SECONDS, "10",
      "seconds a new connection has to send a complete request head");
  public static final Flag BODY_TIMEOUT = Flag.of("body-timeout", Flag.Kind.SECONDS, "30",
      "seconds a request's body has to arrive after its head (then 408)");
  public static final Flag IDLE_TIMEOUT = Flag.of("idle-timeout", Flag.Kind.SECONDS, "90",
      "seconds a connection with no request in progress is kept open");
  /** The three flags, for every listener's flag list. */
  public static final java.util.List<Flag> FLAGS = java.util.List.of(HEADER_TIMEOUT, BODY_TIMEOUT, IDLE_TIMEOUT);

  public ListenerTimeouts {
    if (headerMs < 100 || bodyMs < 100 || idleMs < 100) {
      throw new IllegalArgumentException("--header-timeout, --body-timeout and --idle-timeout must be at least 0.1 seconds");
    }
  }

  public static ListenerTimeouts from(Options o) {
    return new ListenerTimeouts(o.getMillis(HEADER_TIMEOUT), o.getMillis(BODY_TIMEOUT), o.getMillis(IDLE_TIMEOUT));
  }
}
