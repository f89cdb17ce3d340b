package ai.zhiku.controller;

import ai.zhiku.common.DispatchPolicy;
import ai.zhiku.common.ListenerTimeouts;
import ai.zhiku.common.Options;

/**
 * The controller's settings.
 *
 * @param heartbeatExpiryMs a worker silent for longer than this is dropped
 */
public record ControllerConfig(String host, int port, long heartbeatExpiryMs, String dispatchMethod, ListenerTimeouts timeouts) {
  public ControllerConfig(String host, int port, long heartbeatExpiryMs, String dispatchMethod) {
    this(host, port, heartbeatExpiryMs, dispatchMethod, ListenerTimeouts.DEFAULTS);
  }

  public ControllerConfig {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("--port must be between 0 and 65535, got " + port);
    }
    if (heartbeatExpiryMs < 100) {
      throw new IllegalArgumentException("--heartbeat-expiry must be at least 0.1 seconds");
    }
    DispatchPolicy.named(dispatchMethod); // validates the name
  }

  public static ControllerConfig from(Options o) {
    return new ControllerConfig(
        o.get("host", "127.0.0.1"),
        o.getInt("port", 21001),
        Math.round(o.getDouble("heartbeat-expiry", 6.0) * 1000),
        o.get("dispatch-method", "shortest_queue"),
        ListenerTimeouts.from(o));
  }
}
