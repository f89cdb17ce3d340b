package ai.zhiku.api;

import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.HostAndPort;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.StaticHandler;

/**
 * The browser UI (chat, knowledge bases): plain ES modules and CSS under {@code webui/} in this jar,
 * served at {@code /} without an API key. The page itself asks for a key when /v1 answers 401.
 */
public final class WebUi {
  private WebUi() {}

  /**
   * Mounts {@code GET /} and {@code GET /assets/*} (anything else falls through to the API's routes), and,
   * ahead of the CORS handler, lets the page's own requests through: a browser sends {@code Origin} on a
   * same-origin POST, which a restricted {@code --allowed-origins} list would otherwise refuse with 403.
   * Call before the CORS handler is added.
   */
  public static void mount(Router router) {
    router.route().handler(WebUi::sameOrigin);
    // a route ending in /* serves paths relative to its prefix: /assets/app.js is webui/assets/app.js
    router.get("/").handler(StaticHandler.create("webui").setIndexPage("index.html").setMaxAgeSeconds(60));
    router.get("/assets/*").handler(StaticHandler.create("webui/assets").setMaxAgeSeconds(300).setDirectoryListing(false));
  }

  /** A request from this server's own origin is not a cross-origin request: CORS does not apply to it. */
  private static void sameOrigin(RoutingContext ctx) {
    HttpServerRequest req = ctx.request();
    String origin = req.getHeader("origin");
    HostAndPort self = req.authority();
    if (origin != null && self != null
        && origin.equalsIgnoreCase(req.scheme() + "://" + self.host() + (self.port() >= 0 ? ":" + self.port() : ""))) {
      req.headers().remove("origin");
    }
    ctx.next();
  }
}
