package ai.zhiku.worker;

import ai.zhiku.common.Addresses;
import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.GrpcLimits;
import ai.zhiku.common.Metrics;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.EmbedItem;
import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationHandle;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.SamplingParams;
import ai.zhiku.common.engine.TokenSink;
import ai.zhiku.protocol.ControllerGrpcClient;
import ai.zhiku.protocol.CountTokensReply;
import ai.zhiku.protocol.DeregisterRequest;
import ai.zhiku.protocol.DetailsReply;
import ai.zhiku.protocol.EmbedInput;
import ai.zhiku.protocol.EmbedReply;
import ai.zhiku.protocol.Embedding;
import ai.zhiku.protocol.GenerateChunk;
import ai.zhiku.protocol.HeartbeatRequest;
import ai.zhiku.protocol.ModelKind;
import ai.zhiku.protocol.RegisterRequest;
import ai.zhiku.protocol.Usage;
import ai.zhiku.protocol.WorkerGrpcService;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.MessageSizeOverflowException;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerOptions;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.GrpcServerResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker process around one {@link HostedModel}: the Worker gRPC service (Generate, Embed,
 * CountTokens, Details) with admission control, registration and heartbeats to the controller, and
 * GET /health and /metrics on the same port.
 */
public final class WorkerServer {
  private static final Logger log = LoggerFactory.getLogger(WorkerServer.class);
  /** Trailers that carry what an OpenAI error needs beyond the gRPC status. */
  public static final String TRAILER_PARAM = "zhiku-error-param";
  public static final String TRAILER_CODE = "zhiku-error-code";

  private final Vertx vertx;
  private final WorkerConfig config;
  private final HostedModel model;
  private final AdmissionGate gate;
  private final Set<Call> activeCalls = ConcurrentHashMap.newKeySet();
  /** Generate streams whose caller reads slower than the model writes (output held back until it drains). */
  private final java.util.concurrent.atomic.AtomicInteger throttledStreams = new java.util.concurrent.atomic.AtomicInteger();
  private final AtomicBoolean draining = new AtomicBoolean();
  /** Why the model can serve no more (its engine failed), or null. */
  private volatile String unhealthy;
  private volatile Runnable onEngineFailure = () -> { };
  private HttpServer server;
  private GrpcClient grpcClient;
  private ControllerGrpcClient controller;
  private String advertisedAddress;
  private long heartbeatTimer = -1;
  private Context context;
  private final long requestLimit;

  public WorkerServer(Vertx vertx, WorkerConfig config, HostedModel model) {
    this.vertx = vertx;
    this.config = config;
    this.model = model;
    this.gate = new AdmissionGate(config.limitWorkerConcurrency(), config.maxQueue());
    this.requestLimit = GrpcLimits.requestBytes(config.maxBodyBytes());
    Tags tags = Tags.of("model", model.names().getFirst());
    Gauge.builder("zhiku.worker.queue.length", gate, AdmissionGate::queued).tags(tags)
        .description("Requests waiting for a slot").register(Metrics.registry());
    Gauge.builder("zhiku.worker.running", gate, AdmissionGate::running).tags(tags)
        .description("Requests being served").register(Metrics.registry());
    Gauge.builder("zhiku.worker.streams.throttled", throttledStreams, java.util.concurrent.atomic.AtomicInteger::get).tags(tags)
        .description("Generate streams held back because their caller reads slower than the model writes").register(Metrics.registry());
    WorkerMetrics.bind(model, tags, gate);
  }

  /** The address this worker registered under (host:port). */
  public String address() {
    return advertisedAddress;
  }

  public HostedModel model() {
    return model;
  }

  /** Generate streams held back now because their caller reads slower than the model writes. */
  public int throttledStreams() {
    return throttledStreams.get();
  }

  public Future<Integer> start() {
    context = vertx.getOrCreateContext();
    GrpcServer grpc = GrpcServer.server(vertx, new GrpcServerOptions().setMaxMessageSize(requestLimit));
    grpc.callHandler(WorkerGrpcService.Generate, this::generate);
    grpc.callHandler(WorkerGrpcService.Embed, this::embed);
    grpc.callHandler(WorkerGrpcService.CountTokens, req -> refuseOversized(req).handler(msg -> {
      try {
        if (!(model instanceof HostedModel.Chat chat)) {
          throw ZhikuException.invalid("model", "model '" + msg.getModel() + "' is an embedding model; it has no token counter for prompts");
        }
        CountTokensReply.Builder reply = CountTokensReply.newBuilder().setContextLength(chat.engine().info().contextLength());
        if (msg.getWithIds()) {
          int[] ids = chat.engine().tokenize(GenerateMessages.countInput(msg));
          for (int id : ids) reply.addIds(id);
          reply.setCount(ids.length);
        } else {
          reply.setCount(chat.engine().countTokens(GenerateMessages.countInput(msg)));
        }
        req.response().send(reply.build());
      } catch (RuntimeException e) {
        fail(req.response(), e);
      }
    }));
    grpc.callHandler(WorkerGrpcService.Detokenize, req -> refuseOversized(req).handler(msg -> {
      try {
        if (!(model instanceof HostedModel.Chat chat)) {
          throw ZhikuException.invalid("model", "model '" + msg.getModel() + "' is an embedding model; it has no detokenizer");
        }
        int[] ids = msg.getIdsList().stream().mapToInt(Integer::intValue).toArray();
        req.response().send(ai.zhiku.protocol.DetokenizeReply.newBuilder().setText(chat.engine().detokenize(ids)).build());
      } catch (RuntimeException e) {
        fail(req.response(), e);
      }
    }));
    grpc.callHandler(WorkerGrpcService.Details, req -> req.handler(msg -> req.response().send(details())));

    Router router = Router.router(vertx);
    // /health and /health/ready: 503 while draining or once the engine failed (with the reason), so a
    // load balancer or supervisor sees it; /health/live: the process answers
    router.get("/health").handler(this::health);
    router.get("/health/ready").handler(this::health);
    router.get("/health/live").handler(ctx -> ctx.json(new JsonObject().put("status", "alive")));
    router.get("/metrics").handler(ctx -> ctx.response().putHeader("content-type", Metrics.CONTENT_TYPE).end(Metrics.scrape()));

    // HTTP/2 streams per connection: the gate's whole capacity plus headroom, so requests past it
    // reach the gate and get its 429 instead of queueing in the caller
    int streams = ai.zhiku.common.GrpcLimits.workerStreams(config.limitWorkerConcurrency(), config.maxQueue());
    server = ai.zhiku.common.SharedPort.create(vertx, new io.vertx.core.http.HttpServerOptions().setHost(config.host()).setPort(config.port())
        .setInitialSettings(new io.vertx.core.http.Http2Settings().setMaxConcurrentStreams(streams))
        .setHttp2ConnectionWindowSize(GrpcLimits.connectionWindow(streams))
        .setHttp2RstFloodMaxRstFramePerWindow(GrpcLimits.resetsPerWindow(streams)).setHttp2RstFloodWindowDuration(30)
        .setHttp2RstFloodWindowDurationTimeUnit(java.util.concurrent.TimeUnit.SECONDS), config.timeouts(),
        ai.zhiku.common.ClusterToken.checking(config.clusterToken(), grpc), router);
    return server.listen().compose(s -> {
      int port = s.actualPort();
      advertisedAddress = config.workerAddress() != null
          ? Addresses.canonical(Addresses.parse("worker-address", config.workerAddress()))
          : config.host() + ":" + port;
      log.info("worker {} listening on {}:{} serving {} ({})", advertisedAddress, config.host(), port, model.names(), kind());
      if (config.controllerAddress() != null && !config.controllerAddress().isBlank()) {
        grpcClient = ai.zhiku.common.ClusterToken.stamping(config.clusterToken(), GrpcClient.client(vertx));
        controller = ControllerGrpcClient.create(grpcClient, Addresses.parse("controller-address", config.controllerAddress()));
        heartbeatTimer = vertx.setPeriodic(config.heartbeatIntervalMs(), id -> heartbeat());
        return register().recover(err -> {
          log.warn("could not register with the controller at {} ({}); will retry with each heartbeat", config.controllerAddress(), err.getMessage());
          return Future.succeededFuture();
        }).map(port);
      }
      return Future.succeededFuture(port);
    });
  }

  private ModelKind kind() {
    return model instanceof HostedModel.Chat ? ModelKind.MODEL_KIND_CHAT : ModelKind.MODEL_KIND_EMBEDDING;
  }

  private int contextLength() {
    return switch (model) {
      case HostedModel.Chat c -> c.engine().info().contextLength();
      case HostedModel.Embedding e -> e.engine().info().maxTokens();
    };
  }

  private DetailsReply details() {
    DetailsReply.Builder b = DetailsReply.newBuilder().addAllModelNames(model.names()).setKind(kind())
        .setContextLength(contextLength()).setMaxConcurrency(gate.limit());
    switch (model) {
      case HostedModel.Chat c -> b.setChatTemplate(c.engine().info().chatTemplate() == null ? "" : c.engine().info().chatTemplate());
      case HostedModel.Embedding e -> b.setEmbeddingDimension(e.engine().info().dimension());
    }
    return b.build();
  }

  private Future<Void> register() {
    double speed = model instanceof HostedModel.Chat c ? c.engine().info().speed() * config.speed() : config.speed();
    return controller.register(RegisterRequest.newBuilder()
        .setWorkerAddress(advertisedAddress).addAllModelNames(model.names()).setKind(kind())
        .setContextLength(contextLength()).setSpeed(speed > 0 ? speed : 1.0)
        .setEmbeddingDimension(model instanceof HostedModel.Embedding e ? e.engine().info().dimension() : 0)
        .setQueueLength(gate.queued()).setMaxConcurrency(gate.limit()).setMaxQueue(config.maxQueue()).build())
        .onSuccess(r -> log.info("registered with controller {}", config.controllerAddress()))
        .mapEmpty();
  }

  private void health(io.vertx.ext.web.RoutingContext ctx) {
    String reason = unhealthy;
    String status = reason != null ? "unhealthy" : draining.get() ? "draining" : "ok";
    JsonObject body = new JsonObject().put("status", status).put("models", model.names())
        .put("running", gate.running()).put("queued", gate.queued());
    if (reason != null) body.put("reason", reason);
    ctx.response().setStatusCode(status.equals("ok") ? 200 : 503);
    ctx.json(body);
  }

  /** Called once, on the event loop, when the engine has failed and the worker has left the controller. */
  public void onEngineFailure(Runnable action) {
    this.onEngineFailure = action;
  }

  /** Why this worker serves no more, or null while it is healthy. */
  public String unhealthy() {
    return unhealthy;
  }

  /**
   * An engine that failed makes the worker unhealthy: it leaves the controller (which then routes
   * its model elsewhere at once), stops heartbeating, answers /health with 503 and the reason, and
   * tells its owner, which exits for its supervisor (a standalone worker) or keeps serving the rest.
   */
  private boolean checkEngine() {
    if (unhealthy != null) return false;
    String reason = model instanceof HostedModel.Chat chat ? chat.engine().failure() : null;
    if (reason == null) return true;
    unhealthy = reason;
    log.error("model {} can serve no more ({}); leaving the controller", model.names(), reason);
    if (heartbeatTimer >= 0) vertx.cancelTimer(heartbeatTimer);
    Future<Void> left = controller == null ? Future.succeededFuture()
        : controller.deregister(DeregisterRequest.newBuilder().setWorkerAddress(advertisedAddress).build())
            .<Void>mapEmpty().recover(e -> Future.succeededFuture());
    left.onComplete(v -> onEngineFailure.run());
    return false;
  }

  private void heartbeat() {
    if (draining.get() || !checkEngine()) {
      return;
    }
    controller.heartbeat(HeartbeatRequest.newBuilder().setWorkerAddress(advertisedAddress)
            .setQueueLength(gate.queued() + gate.running()).setRunning(gate.running()).build())
        .onSuccess(reply -> {
          if (!reply.getExist()) {
            log.info("controller does not know this worker (restarted?); registering again");
            register();
          }
        })
        .onFailure(err -> log.warn("heartbeat to {} failed: {}", config.controllerAddress(), err.getMessage()));
  }

  // ------------------------------------------------------------------ Generate

  private void generate(GrpcServerRequest<ai.zhiku.protocol.GenerateRequest, GenerateChunk> req) {
    GrpcServerResponse<ai.zhiku.protocol.GenerateRequest, GenerateChunk> resp = req.response();
    Call call = new Call(ai.zhiku.common.VllmMetrics.get().request(model.names().getFirst()));
    refuseOversized(req);
    // Any end of the stream from the caller's side (a reset with any code, the connection closing)
    // cancels the call wherever it is: before its message was read, queued at the gate, or running.
    req.errorHandler(err -> call.cancel());
    req.exceptionHandler(err -> call.cancel());
    resp.exceptionHandler(err -> call.cancel());
    req.handler(msg -> {
      if (call.cancelled) {
        return;
      }
      if (!(model instanceof HostedModel.Chat chat)) {
        fail(resp, ZhikuException.invalid("model", "model '" + msg.getModel() + "' is an embedding model; use /v1/embeddings"));
        return;
      }
      if (draining.get()) {
        fail(resp, ZhikuException.unavailable("worker is shutting down"));
        return;
      }
      if (unhealthy != null) {
        fail(resp, ZhikuException.unavailable("the model's engine failed and serves no more: " + unhealthy));
        return;
      }
      GenerationRequest request;
      try {
        request = GenerateMessages.request(msg);
      } catch (RuntimeException e) {
        fail(resp, e);
        return;
      }
      AdmissionGate.Ticket ticket = gate.enter(() -> {
        call.admitted = true;
        context.runOnContext(v -> call.start(chat, request, resp));
      });
      if (ticket == null) {
        fail(resp, ZhikuException.overloaded("worker is at its concurrency limit (" + gate.limit() + ") and its queue (" + config.maxQueue() + ") is full"));
        return;
      }
      call.ticket = ticket;
    });
  }

  /**
   * A request message over the gRPC limit is answered with a 413-kind error that says which limit,
   * instead of gRPC's bare RESOURCE_EXHAUSTED (which reads as "overloaded, retry").
   */
  private <Q, R> GrpcServerRequest<Q, R> refuseOversized(GrpcServerRequest<Q, R> req) {
    req.invalidMessageHandler(invalid -> {
      if (invalid instanceof MessageSizeOverflowException o) {
        fail(req.response(), ZhikuException.tooLarge("The request (" + o.messageSize() + " bytes as a gRPC message) is larger than this worker accepts ("
            + requestLimit + " bytes, derived from --max-body-bytes " + config.maxBodyBytes() + ")."));
      } else {
        fail(req.response(), ZhikuException.invalid(null, "the request message could not be decoded"));
      }
    });
    return req;
  }

  /**
   * One Generate call: its admission ticket, its engine handle, and whether it has finished. Its
   * fields change on the worker's event loop, except the handle, set where the engine is called.
   */
  private final class Call {
    volatile AdmissionGate.Ticket ticket;
    /** A slot of the gate is this call's (its start ran or is scheduled): finish() must give it back. */
    volatile boolean admitted;
    volatile boolean cancelled;
    volatile GenerationHandle handle;
    final AtomicBoolean done = new AtomicBoolean();
    /** The vLLM-compatible request series (time to first token, inter-token latency, end to end, finish reason). */
    final ai.zhiku.common.VllmMetrics.Request timing;

    /** Its caller reads slower than the model writes: output waits for a drain. */
    final AtomicBoolean throttled = new AtomicBoolean();

    /** Marks the call throttled; true when it was not already. */
    boolean throttle() {
      if (throttled.compareAndSet(false, true)) {
        throttledStreams.incrementAndGet();
        return true;
      }
      return false;
    }

    void unthrottle() {
      if (throttled.compareAndSet(true, false)) {
        throttledStreams.decrementAndGet();
      }
    }

    Call(ai.zhiku.common.VllmMetrics.Request timing) {
      this.timing = timing;
    }

    void start(HostedModel.Chat chat, GenerationRequest original, GrpcServerResponse<?, GenerateChunk> resp) {
      if (done.get() || cancelled) {
        finish(); // cancelled between admission and start: free the slot (once)
        return;
      }
      GenerationRequest request;
      try {
        request = withDefaultMaxTokens(chat, original);
      } catch (RuntimeException e) {
        if (finish()) {
          timing.fail();
          fail(resp, e);
        }
        return;
      }
      activeCalls.add(this);
      TokenSink sink = new TokenSink() {
        // Text is coalesced: while a write is pending on the event loop, new text joins it, so a fast
        // engine (or a burst under load) costs one gRPC message per event-loop turn, not per token.
        private final StringBuilder pending = new StringBuilder();
        private final List<ai.zhiku.protocol.TokenLogprob> pendingLogprobs = new ArrayList<>();
        private volatile List<ai.zhiku.common.engine.ToolCall> toolCalls = List.of();
        private int pendingTokens;
        private boolean scheduled;

        /**
         * Sends the pending text, unless the caller reads slower than the model writes (its HTTP/2
         * window is used up, so the write queue is full): then the text keeps coalescing here (at
         * most the generation's own text) and goes out on drain. {@code last}: the final flush
         * before the end, which sends whatever is pending.
         */
        private void flush(boolean last) {
          String text;
          int tokens;
          List<ai.zhiku.protocol.TokenLogprob> logprobs;
          if (!last && !done.get() && resp.writeQueueFull()) {
            synchronized (this) {
              scheduled = false;
            }
            if (throttle()) {
              resp.drainHandler(v -> {
                unthrottle();
                flush(false);
              });
            }
            return;
          }
          synchronized (this) {
            scheduled = false;
            if (pending.isEmpty() && pendingLogprobs.isEmpty()) {
              return;
            }
            text = pending.toString();
            tokens = pendingTokens;
            logprobs = List.copyOf(pendingLogprobs);
            pending.setLength(0);
            pendingTokens = 0;
            pendingLogprobs.clear();
          }
          if (!done.get()) {
            resp.write(GenerateChunk.newBuilder().setText(text).setTokenCount(tokens).addAllLogprobs(logprobs).build());
          }
        }

        @Override
        public void onText(String text, int tokens) {
          timing.tokens(tokens);
          synchronized (this) {
            pending.append(text);
            pendingTokens += tokens;
            if (scheduled || throttled.get()) {
              return;
            }
            scheduled = true;
          }
          context.runOnContext(v -> flush(false));
        }

        @Override
        public void onLogprob(ai.zhiku.common.engine.TokenLogprob logprob) {
          ai.zhiku.protocol.TokenLogprob wire = GenerateMessages.logprob(logprob);
          synchronized (this) {
            pendingLogprobs.add(wire); // goes out with the next text (or the last chunk)
          }
        }

        @Override
        public void onToolCalls(List<ai.zhiku.common.engine.ToolCall> calls) {
          toolCalls = List.copyOf(calls);
        }

        @Override
        public void onFinish(FinishReason reason, int promptTokens, int completionTokens) {
          List<ai.zhiku.common.engine.ToolCall> calls = toolCalls;
          context.runOnContext(v -> {
            flush(true);
            if (finish()) {
              timing.finish(GenerateMessages.finishName(reason), promptTokens, completionTokens);
              GenerateChunk.Builder last = GenerateChunk.newBuilder().setFinishReason(GenerateMessages.finishReason(reason))
                  .setUsage(Usage.newBuilder().setPromptTokens(promptTokens).setCompletionTokens(completionTokens));
              calls.forEach(c -> last.addToolCalls(GenerateMessages.toolCall(c)));
              resp.end(last.build());
            }
          });
        }

        @Override
        public void onError(Throwable error) {
          context.runOnContext(v -> {
            flush(true);
            if (finish()) {
              timing.fail();
              fail(resp, error);
            }
          });
        }
      };
      // rendering the template and tokenizing (a 300 KB prompt takes tens of ms) run on a worker
      // thread, not on the event loop that every other call of this worker shares
      vertx.<GenerationHandle>executeBlocking(() -> {
        if (done.get() || cancelled) return null;
        GenerationHandle h = chat.engine().submit(request, sink);
        handle = h;
        if (done.get() || cancelled) h.cancel();
        return h;
      }, false).onFailure(e -> {
        if (finish()) {
          timing.fail();
          fail(resp, e);
        }
      });
    }

    /** Marks the call finished once; gives its slot back if it had one. */
    boolean finish() {
      if (done.compareAndSet(false, true)) {
        unthrottle();
        activeCalls.remove(this);
        if (admitted) {
          gate.release();
        }
        return true;
      }
      return false;
    }

    /**
     * The caller went away (or the worker is stopping): nothing happens if its message was not read
     * yet, a queued call leaves the queue, an admitted one frees its slot and stops the engine.
     */
    void cancel() {
      cancelled = true;
      if (!done.get()) {
        timing.finish("abort", 0, 0);
      }
      AdmissionGate.Ticket t = ticket;
      if (t != null && t.withdraw()) {
        done.set(true);
        return;
      }
      if (!admitted) {
        return; // never entered the gate; the message handler sees `cancelled`
      }
      finish();
      GenerationHandle h = handle;
      if (h != null) {
        h.cancel(); // idempotent; start() cancels a handle it sets after this
      }
    }
  }

  /**
   * The default max_tokens: a request that gives none may generate the context left after its
   * prompt, at most --max-tokens-default (0: no cap). A prompt that leaves no room keeps no limit;
   * the engine refuses it as too long.
   */
  private GenerationRequest withDefaultMaxTokens(HostedModel.Chat chat, GenerationRequest r) {
    SamplingParams s = r.sampling();
    if (s.maxTokens() != null || config.maxTokensDefault() <= 0) {
      return r;
    }
    int room = chat.engine().info().contextLength() - chat.engine().countTokens(r.input());
    if (room <= 0) {
      return r;
    }
    SamplingParams capped = new SamplingParams(s.temperature(), s.topP(), s.topK(), Math.min(room, config.maxTokensDefault()),
        s.stop(), s.presencePenalty(), s.frequencyPenalty(), s.repetitionPenalty(), s.seed());
    return r.withSampling(capped);
  }

  // ------------------------------------------------------------------ Embed

  private void embed(GrpcServerRequest<ai.zhiku.protocol.EmbedRequest, EmbedReply> req) {
    GrpcServerResponse<ai.zhiku.protocol.EmbedRequest, EmbedReply> resp = req.response();
    refuseOversized(req);
    req.handler(msg -> {
      if (!(model instanceof HostedModel.Embedding emb)) {
        fail(resp, ZhikuException.invalid("model", "model '" + msg.getModel() + "' is a chat model; it does not produce embeddings"));
        return;
      }
      List<EmbedItem> items = new ArrayList<>(msg.getInputsCount());
      for (EmbedInput in : msg.getInputsList()) {
        items.add(in.hasTokens()
            ? EmbedItem.tokens(in.getTokens().getIdsList().stream().mapToInt(Integer::intValue).toArray())
            : EmbedItem.text(in.getText()));
      }
      AtomicBoolean finished = new AtomicBoolean();
      AdmissionGate.Ticket ticket = gate.enter(() -> {
        try {
          emb.engine().embed(items, msg.getQuery(), msg.getTruncate() || config.truncateEmbeddings()).whenComplete((result, err) -> context.runOnContext(v -> {
            finished.set(true);
            gate.release();
            if (err != null) {
              fail(resp, err);
              return;
            }
            EmbedReply.Builder b = EmbedReply.newBuilder().setPromptTokens(result.promptTokens());
            for (float[] vec : result.vectors()) {
              Embedding.Builder e = Embedding.newBuilder();
              for (float f : vec) {
                e.addValues(f);
              }
              b.addEmbeddings(e);
            }
            resp.send(b.build());
          }));
        } catch (RuntimeException e) {
          context.runOnContext(v -> {
            gate.release();
            fail(resp, e);
          });
        }
      });
      if (ticket == null) {
        fail(resp, ZhikuException.overloaded("worker is at its concurrency limit (" + gate.limit() + ") and its queue (" + config.maxQueue() + ") is full"));
      }
    });
  }

  // ------------------------------------------------------------------ errors and shutdown

  static void fail(GrpcServerResponse<?, ?> resp, Throwable error) {
    Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null ? error.getCause() : error;
    ZhikuException z = cause instanceof ZhikuException ze ? ze : ZhikuException.internal("the model failed: " + cause, cause);
    if (z.kind() == ErrorKind.INTERNAL) {
      log.error("request failed", cause);
    }
    try {
      resp.status(z.kind().grpcStatus()).statusMessage(z.getMessage());
      if (z.param() != null) {
        resp.trailers().set(TRAILER_PARAM, z.param());
      }
      if (z.code() != null) {
        resp.trailers().set(TRAILER_CODE, z.code());
      }
      resp.end();
    } catch (IllegalStateException alreadyEnded) {
      // the caller is gone
    }
  }

  /**
   * Graceful shutdown: deregister first so no new requests arrive, let running streams finish for
   * up to the grace period, cancel what is left, then close the port and the model.
   */
  public Future<Void> close() {
    draining.set(true);
    if (heartbeatTimer >= 0) {
      vertx.cancelTimer(heartbeatTimer);
    }
    Future<Void> deregistered = controller == null ? Future.succeededFuture()
        : controller.deregister(DeregisterRequest.newBuilder().setWorkerAddress(advertisedAddress).build())
            .<Void>mapEmpty().recover(e -> Future.succeededFuture());
    return deregistered.compose(v -> {
      Promise<Void> drained = Promise.promise();
      long deadline = System.currentTimeMillis() + config.shutdownGraceMs();
      vertx.setPeriodic(20, id -> {
        if (gate.running() == 0 || System.currentTimeMillis() > deadline) {
          vertx.cancelTimer(id);
          new ArrayList<>(activeCalls).forEach(Call::cancel);
          drained.tryComplete();
        }
      });
      return drained.future();
    }).compose(v -> server == null ? Future.succeededFuture() : server.shutdown(1, java.util.concurrent.TimeUnit.SECONDS))
        .compose(v -> grpcClient == null ? Future.succeededFuture() : grpcClient.close())
        // the engine joins its own threads: not on an event loop
        .compose(v -> vertx.executeBlocking(() -> {
          model.close();
          return null;
        }));
  }

  /** Stops without deregistering or draining, as a crashed process would (for tests of expiry). */
  public Future<Void> kill() {
    if (heartbeatTimer >= 0) {
      vertx.cancelTimer(heartbeatTimer);
    }
    return server.shutdown(0, java.util.concurrent.TimeUnit.SECONDS).compose(v -> grpcClient == null ? Future.succeededFuture() : grpcClient.close());
  }
}
