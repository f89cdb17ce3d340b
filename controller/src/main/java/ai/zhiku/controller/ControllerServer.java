package ai.zhiku.controller;

import ai.zhiku.common.DispatchPolicy;
import ai.zhiku.common.Metrics;
import ai.zhiku.protocol.ControllerGrpcService;
import ai.zhiku.protocol.DeregisterReply;
import ai.zhiku.protocol.DispatchReply;
import ai.zhiku.protocol.HeartbeatReply;
import ai.zhiku.protocol.ListModelsReply;
import ai.zhiku.protocol.RefreshReply;
import ai.zhiku.protocol.RegisterReply;
import ai.zhiku.protocol.WorkerStatusReply;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import io.vertx.grpc.server.GrpcServer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller process: the Controller gRPC service plus GET /health and GET /metrics, all on one
 * port (gRPC requests are told apart by their content type).
 */
public final class ControllerServer {
  private static final Logger log = LoggerFactory.getLogger(ControllerServer.class);

  private final Vertx vertx;
  private final ControllerConfig config;
  private final WorkerRegistry registry;
  private final MeterRegistry meters = Metrics.registry();
  private final Counter heartbeats;
  private final Counter expirations;
  private final MultiGauge workersGauge;
  private HttpServer server;
  private long expiryTimer = -1;
  private final long startedAt = System.currentTimeMillis();

  public ControllerServer(Vertx vertx, ControllerConfig config) {
    this.vertx = vertx;
    this.config = config;
    this.registry = new WorkerRegistry(DispatchPolicy.named(config.dispatchMethod()), System::currentTimeMillis);
    this.heartbeats = Counter.builder("zhiku.controller.heartbeats").description("Heartbeats received").register(meters);
    this.expirations = Counter.builder("zhiku.controller.expirations").description("Workers dropped for missing heartbeats").register(meters);
    this.workersGauge = MultiGauge.builder("zhiku.controller.workers").description("Live workers per model").register(meters);
  }

  public WorkerRegistry registry() {
    return registry;
  }

  /** Binds the port; the future completes with the bound port once the server listens. */
  public Future<Integer> start() {
    GrpcServer grpc = GrpcServer.server(vertx);
    grpc.callHandler(ControllerGrpcService.Register, req -> req.handler(msg -> {
          WorkerRecord rec = new WorkerRecord(msg.getWorkerAddress(), List.copyOf(msg.getModelNamesList()),
              WorkerRegistry.kindOrChat(msg.getKind()), msg.getContextLength(), msg.getSpeed() > 0 ? msg.getSpeed() : 1.0, msg.getEmbeddingDimension(),
              msg.getMaxConcurrency(), msg.getMaxQueue());
          registry.register(rec, msg.getQueueLength());
          log.info("worker registered: {} serving {} ({})", rec.address(), rec.modelNames(), rec.kind());
          updateGauge();
          req.response().send(RegisterReply.getDefaultInstance());
        }));
    grpc.callHandler(ControllerGrpcService.Heartbeat, req -> req.handler(msg -> {
          heartbeats.increment();
          boolean exists = registry.heartbeat(msg.getWorkerAddress(), msg.getQueueLength(), msg.getRunning());
          req.response().send(HeartbeatReply.newBuilder().setExist(exists).build());
        }));
    grpc.callHandler(ControllerGrpcService.Deregister, req -> req.handler(msg -> {
          if (registry.deregister(msg.getWorkerAddress())) {
            log.info("worker deregistered: {}", msg.getWorkerAddress());
            updateGauge();
          }
          req.response().send(DeregisterReply.getDefaultInstance());
        }));
    grpc.callHandler(ControllerGrpcService.ListModels, req -> req.handler(msg ->
            req.response().send(ListModelsReply.newBuilder().addAllModels(registry.models()).build())));
    grpc.callHandler(ControllerGrpcService.Dispatch, req -> req.handler(msg -> {
          String address = registry.dispatch(msg.getModel(), new HashSet<>(msg.getExcludeAddressesList()));
          meters.counter("zhiku.controller.dispatch", Tags.of("model", boundedModel(msg.getModel()),
              "policy", registry.policy().name(), "outcome", address == null ? "no_worker" : "ok")).increment();
          req.response().send(DispatchReply.newBuilder().setWorkerAddress(address == null ? "" : address).build());
        }));
    // what api-servers poll to dispatch by themselves: the table, the policy, and whether this
    // controller is young enough that workers may not all have re-registered yet
    grpc.callHandler(ControllerGrpcService.WorkerStatus, req -> req.handler(msg ->
            req.response().send(WorkerStatusReply.newBuilder().addAllWorkers(registry.workers())
                .setDispatchMethod(registry.policy().name()).setUptimeMs(System.currentTimeMillis() - startedAt)
                .setHeartbeatExpiryMs(config.heartbeatExpiryMs()).setStartedUnixMs(startedAt).build())));
    grpc.callHandler(ControllerGrpcService.Refresh, req -> req.handler(msg -> {
          // Liveness is pushed by heartbeats, so a refresh only applies expiry now instead of polling workers.
          expireNow();
          req.response().send(RefreshReply.newBuilder().setWorkers(registry.size()).build());
        }));

    Router router = Router.router(vertx);
    router.get("/health").handler(ctx -> ctx.json(new io.vertx.core.json.JsonObject()
        .put("status", "ok").put("workers", registry.size())));
    router.get("/metrics").handler(ctx -> ctx.response().putHeader("content-type", Metrics.CONTENT_TYPE).end(Metrics.scrape()));
    router.get("/workers").handler(ctx -> {
      io.vertx.core.json.JsonArray arr = new io.vertx.core.json.JsonArray();
      registry.workers().forEach(w -> arr.add(new io.vertx.core.json.JsonObject()
          .put("address", w.getWorkerAddress()).put("models", new io.vertx.core.json.JsonArray(w.getModelNamesList()))
          .put("queue_length", w.getQueueLength()).put("running", w.getRunning())));
      ctx.json(arr);
    });

    server = ai.zhiku.common.SharedPort.create(vertx, config.host(), config.port(), config.timeouts(),
        ai.zhiku.common.ClusterToken.checking(config.clusterToken(), grpc), router);
    long period = Math.max(50, config.heartbeatExpiryMs() / 4);
    expiryTimer = vertx.setPeriodic(period, id -> expireNow());
    return server.listen().map(s -> {
      log.info("controller listening on {}:{} (dispatch {}, heartbeat expiry {} ms)",
          config.host(), s.actualPort(), registry.policy().name(), config.heartbeatExpiryMs());
      return s.actualPort();
    });
  }

  private void expireNow() {
    List<String> expired = registry.expire(config.heartbeatExpiryMs());
    if (!expired.isEmpty()) {
      expirations.increment(expired.size());
      expired.forEach(a -> log.warn("worker expired (no heartbeat for {} ms): {}", config.heartbeatExpiryMs(), a));
      updateGauge();
    }
  }

  /** Model names come from the workers, not from clients; unknown names from clients are folded. */
  private String boundedModel(String model) {
    return registry.serves(model) ? model : "unknown";
  }

  private void updateGauge() {
    List<MultiGauge.Row<?>> rows = new ArrayList<>();
    for (Map.Entry<String, Integer> e : registry.workersPerModel().entrySet()) {
      rows.add(MultiGauge.Row.of(Tags.of("model", e.getKey(), "state", "up"), e.getValue()));
    }
    workersGauge.register(rows, true);
  }

  public Future<Void> close() {
    if (expiryTimer >= 0) {
      vertx.cancelTimer(expiryTimer);
    }
    return server == null ? Future.succeededFuture() : server.shutdown(1, java.util.concurrent.TimeUnit.SECONDS);
  }
}
