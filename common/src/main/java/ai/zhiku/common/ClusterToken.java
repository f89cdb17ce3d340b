package ai.zhiku.common;

import io.vertx.core.Handler;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * The cluster secret ({@code --cluster-token}, else {@code ZHIKU_CLUSTER_TOKEN}): every gRPC call the
 * api-server and workers make carries {@code authorization: Bearer TOKEN}, and the controller and workers
 * refuse a call without it, or with another, as UNAUTHENTICATED. Without a token nothing is checked.
 */
public final class ClusterToken {
  public static final Flag FLAG = Flag.text("cluster-token", null,
      "shared secret on every gRPC call between api-server, controller and workers (or env ZHIKU_CLUSTER_TOKEN)")
      .shownDefault("none: RPCs unchecked");
  static final String HEADER = "authorization";
  private static final String SCHEME = "Bearer ";

  private ClusterToken() {}

  /** The configured token, or null when none (or an empty one) is given. */
  public static String from(Options o) {
    String token = o.get(FLAG);
    return token == null || token.isBlank() ? null : token.trim();
  }

  /** A fresh random token: what {@code serve} hands its own components when none is given. */
  public static String random() {
    byte[] bytes = new byte[24];
    new SecureRandom().nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /** The header value a call carries. */
  static String headerValue(String token) {
    return SCHEME + token;
  }

  /**
   * The client side: {@code client} whose every request carries the token; {@code client} itself
   * when {@code token} is null.
   */
  public static GrpcClient stamping(String token, GrpcClient client) {
    return token == null ? client : new TokenStampingGrpcClient(client, headerValue(token));
  }

  /**
   * The server side: {@code grpc} behind a check of the token; a call without it or with another is
   * answered UNAUTHENTICATED (trailers only) and never reaches a service. {@code grpc} itself when
   * {@code token} is null.
   */
  public static Handler<HttpServerRequest> checking(String token, Handler<HttpServerRequest> grpc) {
    if (token == null) {
      return grpc;
    }
    byte[] expected = headerValue(token).getBytes(StandardCharsets.UTF_8);
    return req -> {
      String given = req.getHeader(HEADER);
      // constant-time: how much of a guess matches must not show in the answer's timing
      if (given != null && MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.UTF_8))) {
        grpc.handle(req);
        return;
      }
      req.response().setStatusCode(200)
          .putHeader("content-type", "application/grpc")
          .putHeader("grpc-status", Integer.toString(GrpcStatus.UNAUTHENTICATED.code))
          .putHeader("grpc-message", given == null ? "missing cluster token" : "wrong cluster token")
          .end();
    };
  }
}
