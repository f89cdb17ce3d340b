package ai.zhiku.common;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;

/** One port for a process's gRPC service and its plain HTTP routes (/health, /metrics), told apart by content type. */
public final class SharedPort {
  private SharedPort() {}

  public static HttpServer create(Vertx vertx, String host, int port, ListenerTimeouts timeouts,
                                  Handler<HttpServerRequest> grpc, Handler<HttpServerRequest> http) {
    return create(vertx, new HttpServerOptions().setHost(host).setPort(port), timeouts, grpc, http);
  }

  /** With header, body and idle timeouts ({@link ListenerGuard}) on every connection. */
  public static HttpServer create(Vertx vertx, HttpServerOptions options, ListenerTimeouts timeouts,
                                  Handler<HttpServerRequest> grpc, Handler<HttpServerRequest> http) {
    ListenerGuard guard = new ListenerGuard(vertx, timeouts);
    HttpServer server = vertx.createHttpServer(guard.serverOptions(options));
    return server.requestHandler(guard.install(server, options, req -> {
      String ct = req.getHeader("content-type");
      if (ct != null && ct.startsWith("application/grpc")) {
        grpc.handle(req);
      } else {
        http.handle(req);
      }
    }));
  }
}
