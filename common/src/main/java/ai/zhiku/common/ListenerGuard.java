package ai.zhiku.common;

import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Header, body and idle timeouts for one HTTP server (Vert.x has only an idle timeout that counts
 * bytes, which would also cut a long generation that sends nothing for minutes). Each connection
 * gets a check on its own event loop a few times per timeout: it is closed when it sent no complete
 * request head within {@link ListenerTimeouts#headerMs} of opening, or had no request in progress
 * for {@link ListenerTimeouts#idleMs}; a request whose body has not all arrived
 * {@link ListenerTimeouts#bodyMs} after its head is answered 408 (OpenAI's error shape) and its
 * connection closed (over HTTP/2, only its stream is reset). A request being served is never cut.
 *
 * <p>Vert.x creates an HTTP/1 connection (and calls the connection handler) at accept only when
 * cleartext HTTP/2 is off, as on the api-server; on a port that also speaks HTTP/2 (the gRPC
 * ports) it does so once the first request head is complete, so {@link #serverOptions} adds
 * Vert.x's byte-level idle timeout there as a backstop for sockets that never complete one, and
 * connections with a stream in progress are pinged so that it never cuts them.
 *
 * <p>It also answers requests Vert.x cannot parse (request line or headers over the limits: 414,
 * 431) in OpenAI's error shape, naming the limit, instead of an empty body.
 */
public final class ListenerGuard {
  private static final Logger log = LoggerFactory.getLogger(ListenerGuard.class);

  private final Vertx vertx;
  private final ListenerTimeouts timeouts;
  private final long period;

  private final class State {
    final HttpConnection conn;
    final long openedAt = System.currentTimeMillis();
    final List<HttpServerRequest> requests = new ArrayList<>(2);
    final List<Long> startedAt = new ArrayList<>(2);
    long lastActive = openedAt;
    long lastPing = openedAt;
    boolean hadRequest;
    long timer = -1;

    final boolean isHttp2;

    State(HttpConnection conn) {
      this.conn = conn;
      this.isHttp2 = conn.getClass().getSimpleName().startsWith("Http2");
    }

    void check() {
      long now = System.currentTimeMillis();
      for (int i = requests.size() - 1; i >= 0; i--) {
        HttpServerRequest req = requests.get(i);
        HttpServerResponse resp = req.response();
        if (resp.ended() || resp.closed()) {
          requests.remove(i);
          startedAt.remove(i);
          lastActive = now;
        } else if (!req.isEnded() && now - startedAt.get(i) > timeouts.bodyMs()) {
          requests.remove(i);
          startedAt.remove(i);
          bodyTimedOut(req);
        }
      }
      if (!requests.isEmpty() && conn instanceof io.vertx.core.http.HttpConnection c && isHttp2 && now - lastPing > timeouts.idleMs() / 3) {
        // a stream being served may send nothing for minutes (a queued generation): a PING keeps
        // bytes moving, so the byte-level idle timeout of ports that also speak HTTP/2 never cuts it
        lastPing = now;
        c.ping(io.vertx.core.buffer.Buffer.buffer(8).appendLong(now));
      }
      if (requests.isEmpty()) {
        if (!hadRequest && now - openedAt > timeouts.headerMs()) {
          log.debug("closing {}: no complete request head within {} ms", conn.remoteAddress(), timeouts.headerMs());
          close();
        } else if (hadRequest && now - lastActive > timeouts.idleMs()) {
          close();
        }
      }
    }

    void close() {
      cancel();
      conn.close();
    }

    void cancel() {
      if (timer >= 0) {
        vertx.cancelTimer(timer);
        timer = -1;
      }
    }
  }

  public ListenerGuard(Vertx vertx, ListenerTimeouts timeouts) {
    this.vertx = vertx;
    this.timeouts = timeouts;
    long shortest = Math.min(timeouts.headerMs(), Math.min(timeouts.bodyMs(), timeouts.idleMs()));
    this.period = Math.max(50, Math.min(1000, shortest / 5));
  }

  /** {@code options} with what the guard needs: the byte-level idle backstop where cleartext HTTP/2 is on. */
  public HttpServerOptions serverOptions(HttpServerOptions options) {
    if (options.isHttp2ClearTextEnabled()) {
      options.setIdleTimeout((int) Math.min(Integer.MAX_VALUE, timeouts.idleMs())).setIdleTimeoutUnit(java.util.concurrent.TimeUnit.MILLISECONDS);
    }
    return options;
  }

  /**
   * Installs the guard on {@code server} (its connection and invalid-request handlers) and returns
   * {@code handler} wrapped so the guard sees each request; the caller sets it as the request handler.
   */
  public Handler<HttpServerRequest> install(HttpServer server, HttpServerOptions options, Handler<HttpServerRequest> handler) {
    java.util.Map<HttpConnection, State> states = new java.util.concurrent.ConcurrentHashMap<>();
    server.connectionHandler(conn -> {
      State s = new State(conn);
      states.put(conn, s);
      s.timer = vertx.setPeriodic(period, id -> s.check());
      conn.closeHandler(v -> {
        s.cancel();
        states.remove(conn);
      });
    });
    server.invalidRequestHandler(req -> invalid(req, options));
    return req -> {
      State s = states.get(req.connection());
      if (s != null) {
        s.hadRequest = true;
        s.requests.add(req);
        s.startedAt.add(System.currentTimeMillis());
      }
      handler.handle(req);
    };
  }

  private void bodyTimedOut(HttpServerRequest req) {
    log.debug("request body from {} did not arrive within {} ms", req.remoteAddress(), timeouts.bodyMs());
    HttpServerResponse resp = req.response();
    if (req.version() == HttpVersion.HTTP_2) {
      resp.reset();
      return;
    }
    if (!resp.headWritten()) {
      resp.setStatusCode(408).putHeader("content-type", "application/json").putHeader("connection", "close")
          .end(error("The request body did not arrive within " + seconds(timeouts.bodyMs()) + " s of its headers (--body-timeout).",
              "request_timeout").encode())
          .onComplete(ar -> req.connection().close());
    } else {
      req.connection().close();
    }
  }

  /** 414 / 431 / 400 for a request Vert.x could not parse, with a body that names the limit. */
  private static void invalid(HttpServerRequest req, HttpServerOptions options) {
    Throwable cause = req.decoderResult() == null ? null : req.decoderResult().cause();
    int status;
    JsonObject body;
    if (cause instanceof TooLongHttpLineException) {
      status = 414;
      body = error("The request line (method, URL and version) is longer than this server accepts ("
          + options.getMaxInitialLineLength() + " bytes).", "request_line_too_long");
    } else if (cause instanceof TooLongHttpHeaderException) {
      status = 431;
      body = error("The request headers are larger than this server accepts (" + options.getMaxHeaderSize() + " bytes in all).",
          "request_headers_too_large");
    } else {
      status = 400;
      body = error("The request could not be parsed as HTTP" + (cause == null || cause.getMessage() == null ? "." : ": " + cause.getMessage()),
          "invalid_http");
    }
    HttpServerResponse resp = req.response();
    resp.setStatusCode(status).putHeader("content-type", "application/json").putHeader("connection", "close")
        .end(body.encode()).onComplete(ar -> req.connection().close());
  }

  /** OpenAI's error shape. */
  public static JsonObject error(String message, String code) {
    return new JsonObject().put("error", new JsonObject().put("message", message).put("type", "invalid_request_error")
        .putNull("param").put("code", code));
  }

  private static String seconds(long ms) {
    return ms % 1000 == 0 ? Long.toString(ms / 1000) : Double.toString(ms / 1000.0);
  }
}
