package ai.zhiku.api;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ListenerGuard;
import ai.zhiku.common.Metrics;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.protocol.ModelCard;
import ai.zhiku.protocol.ModelKind;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The OpenAI-compatible HTTP surface. Handlers here parse, validate, route and write; the work
 * happens on workers (over gRPC) and in the knowledge-base library (on a worker pool).
 */
public final class ApiServer {
  private static final Logger log = LoggerFactory.getLogger(ApiServer.class);
  private static final long CREATED = System.currentTimeMillis() / 1000;
  /** The longest request line (method, URL, version) and the most header bytes accepted: Vert.x's defaults, named in the 414 / 431. */
  static final int MAX_REQUEST_LINE = 4096;
  static final int MAX_HEADERS = 8192;

  private final Vertx vertx;
  private final ApiServerConfig config;
  private final Upstream upstream;
  private final ApiMetrics metrics;
  private final KbRoutes kbRoutes;
  private final ApiKeys keys;
  private HttpServer server;

  /**
   * @param kbRoutes the knowledge-base REST API and augmenter, or null when knowledge bases are off
   */
  public ApiServer(Vertx vertx, ApiServerConfig config, KbRoutes kbRoutes) {
    this.vertx = vertx;
    this.config = config;
    this.upstream = new Upstream(vertx, config.controllerAddress(), config.controllerPollMs(), config.modelRetentionMs(),
        config.maxBodyBytes(), config.clusterToken());
    this.metrics = new ApiMetrics(upstream);
    this.kbRoutes = kbRoutes;
    this.keys = ApiKeys.of(config);
  }

  public Upstream upstream() {
    return upstream;
  }

  public Router router() {
    Router router = Router.router(vertx);
    router.route().handler(new CorsGuard(CorsPolicy.of(config.corsOrigins())));
    WebUi.mount(router);
    router.get("/health").handler(ctx -> ctx.json(new JsonObject().put("status", "ok")));
    if (config.keysConfigured() && !config.metricsOpen()) {
      router.get("/metrics").handler(this::authenticate).handler(ctx -> {
        if (Access.check(ctx, Scope.METRICS)) {
          ctx.next();
        }
      });
    }
    router.get("/metrics").handler(ctx -> ctx.response().putHeader("content-type", Metrics.CONTENT_TYPE).end(Metrics.scrape()));

    router.route("/v1/*").handler(this::authenticate);
    router.route("/api/*").handler(this::authenticate);
    router.route("/v1/*").handler(ApiServer::requireChat);
    router.route("/api/*").handler(ApiServer::requireChat);
    if (kbRoutes != null) {
      kbRoutes.mount(router, config.maxUploadBytes(), metrics, upstream);
    }
    BodyHandler body = BodyHandler.create(false).setBodyLimit(config.maxBodyBytes());
    router.route("/v1/*").handler(body);
    router.route("/api/*").handler(body);

    GenerationHandlers generation = new GenerationHandlers(upstream, metrics, kbRoutes == null ? null : kbRoutes.augmenter());
    EmbeddingsHandler embeddings = new EmbeddingsHandler(upstream, metrics);
    router.get("/v1/models").handler(this::listModels);
    router.get("/v1/models/:model").handler(this::getModel);
    router.post("/v1/chat/completions").handler(generation::chat);
    router.post("/v1/completions").handler(generation::completions);
    router.post("/v1/embeddings").handler(embeddings::handle);
    TokenRoutes tokens = new TokenRoutes(upstream);
    router.post("/api/v1/token_check").handler(tokens::tokenCheck);
    for (String path : List.of("/tokenize", "/detokenize", "/v1/tokenize", "/v1/detokenize")) {
      if (!path.startsWith("/v1/")) {
        router.route(path).handler(this::authenticate);
        router.route(path).handler(ApiServer::requireChat);
        router.route(path).handler(body);
      }
      router.post(path).handler(path.endsWith("/tokenize") ? tokens::tokenize : tokens::detokenize);
    }

    router.route().last().handler(ctx -> OpenAiError.send(ctx.response(),
        new ZhikuException(ErrorKind.NOT_FOUND, "Unknown request URL: " + ctx.request().method() + " " + ctx.request().path()
            + ". Please check the URL for typos.", null, "unknown_url")));
    router.errorHandler(413, ctx -> {
      boolean upload = kbRoutes != null && ctx.request().path().startsWith("/v1/knowledge_bases");
      OpenAiError.send(ctx.response(), new ZhikuException(ErrorKind.PAYLOAD_TOO_LARGE, upload
          ? "Request body too large; the limit for knowledge-base requests is " + config.maxUploadBytes() + " bytes (--max-upload-bytes)."
          : "Request body too large; the limit is " + config.maxBodyBytes() + " bytes (--max-body-bytes).", null, "request_too_large"));
    });
    router.errorHandler(405, ctx -> OpenAiError.send(ctx.response(), new ZhikuException(ErrorKind.NOT_FOUND,
        "Method " + ctx.request().method() + " is not allowed for " + ctx.request().path(), null, "method_not_allowed")));
    router.errorHandler(500, ctx -> OpenAiError.send(ctx.response(), ctx.failure() == null
        ? ZhikuException.internal("The server had an error while processing your request.", null) : ctx.failure()));
    return router;
  }

  public Future<Integer> start() {
    HttpServerOptions options = new HttpServerOptions().setHost(config.host()).setPort(config.port())
        .setCompressionSupported(true).setTcpNoDelay(true)
        .setMaxInitialLineLength(MAX_REQUEST_LINE).setMaxHeaderSize(MAX_HEADERS)
        // HTTP/1.1 only (clients and browsers speak it over cleartext): then Vert.x hands over each
        // connection at accept, and the header timeout covers a socket that never sends a head
        .setHttp2ClearTextEnabled(false);
    server = vertx.createHttpServer(options);
    // header, body and idle timeouts; 414 / 431 in OpenAI's shape
    server.requestHandler(new ListenerGuard(vertx, config.timeouts()).install(server, options, router()));
    return upstream.start().compose(v -> server.listen()).map(s -> {
      log.info("api-server listening on http://{}:{}/v1 (controller {}, {} API keys, knowledge bases {})", config.host(),
          s.actualPort(), config.controllerAddress(), keys.size(), kbRoutes == null ? "off" : "on");
      return s.actualPort();
    });
  }

  public Future<Void> close() {
    Future<Void> f = server == null ? Future.succeededFuture() : server.shutdown(1, java.util.concurrent.TimeUnit.SECONDS);
    return f.compose(v -> upstream.close()).andThen(ar -> {
      if (kbRoutes != null) {
        kbRoutes.close();
      }
    });
  }

  // ------------------------------------------------------------------ auth

  /** 401 without a known key; otherwise the key's {@link Access} goes on the context for the routes to check. */
  private void authenticate(RoutingContext ctx) {
    if (keys.isEmpty() || ctx.request().method() == HttpMethod.OPTIONS) {
      ctx.put(Access.CONTEXT_KEY, Access.ALL);
      ctx.next();
      return;
    }
    String header = ctx.request().getHeader("authorization");
    String key = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).trim() : null;
    Access access = key == null ? null : keys.lookup(key);
    if (access != null) {
      ctx.put(Access.CONTEXT_KEY, access);
      ctx.next();
      return;
    }
    metrics.authFailure();
    String message = key == null
        ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        : "Incorrect API key provided: " + redact(key) + ".";
    OpenAiError.send(ctx.response(), new ZhikuException(ErrorKind.UNAUTHORIZED, message, null, "invalid_api_key"));
  }

  /** Everything under /v1 and /api but the knowledge bases (which check their own scopes) needs {@code chat}. */
  private static void requireChat(RoutingContext ctx) {
    String path = ctx.request().path();
    boolean kb = path.equals("/v1/knowledge_bases") || path.startsWith("/v1/knowledge_bases/");
    if (kb || Access.check(ctx, Scope.CHAT)) {
      ctx.next();
    }
  }

  private static String redact(String key) {
    return key.length() <= 8 ? "****" : key.substring(0, 3) + "*".repeat(4) + key.substring(key.length() - 4);
  }

  // ------------------------------------------------------------------ models and token check

  private void listModels(RoutingContext ctx) {
    long start = System.nanoTime();
    upstream.models().onFailure(err -> OpenAiError.send(ctx.response(), err)).onSuccess(models -> {
      JsonArray data = new JsonArray();
      models.forEach(m -> data.add(modelObject(m)));
      ctx.response().putHeader("content-type", "application/json").end(new JsonObject().put("object", "list").put("data", data).encode());
      metrics.request("models", null, 200, start);
    });
  }

  private void getModel(RoutingContext ctx) {
    upstream.model(ctx.pathParam("model")).onFailure(err -> OpenAiError.send(ctx.response(), err))
        .onSuccess(m -> ctx.response().putHeader("content-type", "application/json").end(modelObject(m).encode()));
  }

  private static JsonObject modelObject(ModelCard m) {
    return new JsonObject().put("id", m.getName()).put("object", "model").put("created", CREATED).put("owned_by", "zhiku")
        .put("root", m.getName()).putNull("parent")
        .put("max_model_len", m.getContextLength())
        .put("kind", m.getKind() == ModelKind.MODEL_KIND_EMBEDDING ? "embedding" : "chat");
  }

  // ------------------------------------------------------------------ body

  /** The request body as a JSON object, or 400 in OpenAI's words. */
  public static JsonObject jsonBody(RoutingContext ctx) {
    if (ctx.body() == null || ctx.body().buffer() == null || ctx.body().length() == 0) {
      throw ZhikuException.invalid(null, "We could not parse the JSON body of your request: the body is empty. The OpenAI API expects a JSON payload.");
    }
    io.vertx.core.buffer.Buffer buf = ctx.body().buffer();
    int i = 0;
    while (i < buf.length() && Character.isWhitespace(buf.getByte(i))) {
      i++;
    }
    if (i == buf.length() || buf.getByte(i) != '{') {
      throw ZhikuException.invalid(null, "The JSON body of your request must be an object.");
    }
    try {
      return new JsonObject(buf);
    } catch (DecodeException e) {
      throw ZhikuException.invalid(null, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)");
    }
  }
}
