package ai.zhiku.api;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;

/**
 * The CORS handler in front of every route. A request without {@code Origin} (curl, the SDKs) passes
 * untouched. From an allowed origin it gets {@code Access-Control-Allow-Origin}, and a preflight is
 * answered 204 with the methods and the headers it asked for. From any other origin, a preflight or a
 * plain request, it is refused: 403 in OpenAI's error shape without any {@code Access-Control-*} header,
 * so the browser keeps the answer from the page.
 */
public final class CorsGuard implements Handler<RoutingContext> {
  static final String METHODS = "GET, POST, DELETE, OPTIONS";
  private static final String MAX_AGE_SECONDS = "600";

  private final CorsPolicy policy;

  public CorsGuard(CorsPolicy policy) {
    this.policy = policy;
  }

  @Override
  public void handle(RoutingContext ctx) {
    HttpServerRequest req = ctx.request();
    HttpServerResponse resp = ctx.response();
    String origin = req.getHeader("origin");
    if (origin == null) {
      ctx.next();
      return;
    }
    boolean preflight = req.method() == HttpMethod.OPTIONS && req.getHeader("access-control-request-method") != null;
    resp.headers().add("vary", "origin");
    if (!policy.allows(origin, req)) {
      OpenAiError.send(resp, new ZhikuException(ErrorKind.FORBIDDEN, "Origin " + origin + " is not allowed to call this server"
          + " from a browser; start it with --allowed-origins listing that origin.", null, "origin_not_allowed"));
      return;
    }
    resp.putHeader("access-control-allow-origin", policy.anyOrigin() ? "*" : origin);
    if (!preflight) {
      ctx.next();
      return;
    }
    resp.putHeader("access-control-allow-methods", METHODS).putHeader("access-control-max-age", MAX_AGE_SECONDS);
    String asked = req.getHeader("access-control-request-headers");
    if (asked != null && !asked.isBlank()) {
      // the origin is trusted: whatever headers its page sends (the OpenAI SDK adds its own x-stainless-*)
      resp.putHeader("access-control-allow-headers", asked);
    }
    resp.setStatusCode(204).end();
  }
}
