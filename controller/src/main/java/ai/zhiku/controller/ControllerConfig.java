package ai.zhiku.controller;

import ai.zhiku.common.Flag;
import ai.zhiku.common.Flags;
import ai.zhiku.common.ClusterToken;
import ai.zhiku.common.DispatchPolicy;
import ai.zhiku.common.ListenerTimeouts;
import ai.zhiku.common.Options;
import java.util.List;

/**
 * The controller's settings.
 *
 * @param heartbeatExpiryMs a worker silent for longer than this is dropped
 * @param clusterToken calls without this secret are refused ({@link ClusterToken}); null: none checked
 */
public record ControllerConfig(String host, int port, long heartbeatExpiryMs, String dispatchMethod, ListenerTimeouts timeouts,
                               String clusterToken) {
  public static final Flag HOST = Flag.text("host", "127.0.0.1", "address to listen on (gRPC, /health and /metrics share the port)");
  public static final Flag PORT = Flag.integer("port", 21001, "port to listen on (0: any free port)");
  public static final Flag HEARTBEAT_EXPIRY = Flag.of("heartbeat-expiry", Flag.Kind.SECONDS, "6",
      "seconds after which a silent worker is dropped");
  public static final Flag DISPATCH_METHOD = Flag.choice("dispatch-method", "shortest_queue",
      "how a worker is picked for a request (lottery: weighted by speed)", "shortest_queue", "lottery");

  /** Every flag of {@code bin/zhiku controller}, in --help order. */
  public static final List<Flag> FLAGS = List.of(HOST, PORT, HEARTBEAT_EXPIRY, DISPATCH_METHOD,
      ListenerTimeouts.HEADER_TIMEOUT, ListenerTimeouts.BODY_TIMEOUT, ListenerTimeouts.IDLE_TIMEOUT, ClusterToken.FLAG);

  public static Flags flags() {
    return Flags.builder("controller", "registry of workers: heartbeats, expiry, and which worker serves a request")
        .addAll(FLAGS).add(Flags.CONFIG, Flags.VERBOSE).build();
  }

  public ControllerConfig(String host, int port, long heartbeatExpiryMs, String dispatchMethod) {
    this(host, port, heartbeatExpiryMs, dispatchMethod, ListenerTimeouts.DEFAULTS, null);
  }

  public ControllerConfig(String host, int port, long heartbeatExpiryMs, String dispatchMethod, ListenerTimeouts timeouts) {
    this(host, port, heartbeatExpiryMs, dispatchMethod, timeouts, null);
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
        o.get(HOST),
        o.getInt(PORT),
        o.getMillis(HEARTBEAT_EXPIRY),
        o.get(DISPATCH_METHOD),
        ListenerTimeouts.from(o),
        ClusterToken.from(o));
  }

  public ControllerConfig withClusterToken(String token) {
    return new ControllerConfig(host, port, heartbeatExpiryMs, dispatchMethod, timeouts, token);
  }
}
