package ai.zhiku.api;

import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.StaticHandler;

/**
 * The browser UI (chat, knowledge bases): plain ES modules and CSS under {@code webui/} in this jar,
 * served at {@code /} without an API key. The page itself asks for a key when /v1 answers 401.
 */
public final class WebUi {
  private WebUi() {}

  /**
   * Mounts {@code GET /} and {@code GET /assets/*} (anything else falls through to the API's routes). The
   * page's own requests carry its {@code Origin}, the server's own, which {@link CorsPolicy} always allows.
   */
  public static void mount(Router router) {
    // a route ending in /* serves paths relative to its prefix: /assets/app.js is webui/assets/app.js
    router.get("/").handler(StaticHandler.create("webui").setIndexPage("index.html").setMaxAgeSeconds(60));
    router.get("/assets/*").handler(StaticHandler.create("webui/assets").setMaxAgeSeconds(300).setDirectoryListing(false));
  }
}
