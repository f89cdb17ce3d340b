package ai.zhiku.api;

import ai.zhiku.controller.ControllerConfig;
import ai.zhiku.controller.ControllerServer;
import ai.zhiku.worker.HostedModel;
import ai.zhiku.worker.WorkerConfig;
import ai.zhiku.worker.WorkerServer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real controller, real workers and a real api-server on random loopback ports, talking real gRPC,
 * in one Vert.x instance per process role. Workers host whatever engines the test gives them.
 */
final class TestCluster implements AutoCloseable {
  final Vertx vertx = Vertx.vertx();
  ControllerServer controller;
  final int controllerPort;
  private final String dispatchMethod;
  private final long expiryMs;
  private boolean controllerUp = true;
  final List<WorkerServer> workers = new ArrayList<>();
  ApiServer api;
  int apiPort;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** The cluster secret every component is started with; null: none. */
  final String clusterToken;

  TestCluster(String dispatchMethod, long expiryMs) {
    this(dispatchMethod, expiryMs, null);
  }

  TestCluster(String dispatchMethod, long expiryMs, String clusterToken) {
    this.dispatchMethod = dispatchMethod;
    this.expiryMs = expiryMs;
    this.clusterToken = clusterToken;
    controller = new ControllerServer(vertx, new ControllerConfig("127.0.0.1", 0, expiryMs, dispatchMethod).withClusterToken(clusterToken));
    controllerPort = await(controller.start());
  }

  /** Stops the controller's server, as a crashed controller process: it forgets every worker. */
  void stopController() {
    await(controller.close());
    controllerUp = false;
  }

  /** A new controller, knowing nothing, on the same port (as a restarted process). */
  void startController() {
    controller = new ControllerServer(vertx, new ControllerConfig("127.0.0.1", controllerPort, expiryMs, dispatchMethod).withClusterToken(clusterToken));
    await(controller.start());
    controllerUp = true;
  }

  String controllerAddress() {
    return "http://127.0.0.1:" + controllerPort;
  }

  boolean truncateEmbeddings;

  WorkerServer addWorker(HostedModel model, int limit, int maxQueue) {
    return addWorker(model, limit, maxQueue, c -> c);
  }

  /** A worker whose settings the test adjusts further (say, a smaller --max-body-bytes). */
  WorkerServer addWorker(HostedModel model, int limit, int maxQueue, java.util.function.UnaryOperator<WorkerConfig> tweak) {
    WorkerConfig config = tweak.apply(WorkerConfig.defaults().local(controllerAddress(), null, model.names()).withLimits(limit, maxQueue)
        .withHeartbeat(200, 2000).withTruncateEmbeddings(truncateEmbeddings).withClusterToken(clusterToken));
    WorkerServer w = new WorkerServer(vertx, config, model);
    await(w.start());
    workers.add(w);
    return w;
  }

  TestCluster startApi(List<String> keys, long maxBodyBytes) {
    return startApi(keys, maxBodyBytes, null);
  }

  /** With knowledge bases on the given database (null: off). */
  TestCluster startApi(List<String> keys, long maxBodyBytes, String kbDatabaseUrl) {
    ApiServerConfig config = new ApiServerConfig("127.0.0.1", 0, controllerAddress(), keys, List.of(), maxBodyBytes, 8 << 20,
        200, kbDatabaseUrl, 2, "bge-small-zh-v1.5").withClusterToken(clusterToken);
    api = new ApiServer(vertx, config, kbDatabaseUrl == null ? null : ai.zhiku.api.kb.KnowledgeBaseRoutes.create(vertx, config));
    apiPort = await(api.start());
    return this;
  }

  /**
   * Waits until the api-server's own worker table (polled every 200 ms here) lists the same models
   * as the controller: what a test that changed the workers does before it looks at /v1/models.
   */
  void syncTable() {
    long deadline = System.currentTimeMillis() + 3000;
    while (System.currentTimeMillis() < deadline
        && !await(api.upstream().models()).equals(controller.registry().models())) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  String base() {
    return "http://127.0.0.1:" + apiPort;
  }

  HttpResponse<String> post(String path, String json, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(30))
        .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json));
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> get(String path, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(30)).GET();
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    if (api != null) {
      await(api.close());
    }
    for (WorkerServer w : workers) {
      try {
        await(w.close());
      } catch (RuntimeException ignored) {
        // killed already
      }
    }
    if (controllerUp) {
      await(controller.close());
    }
    await(vertx.close());
  }
}
