package ai.zhiku.launcher.bench;

import ai.zhiku.api.ApiServer;
import ai.zhiku.api.ApiServerConfig;
import ai.zhiku.controller.ControllerConfig;
import ai.zhiku.controller.ControllerServer;
import ai.zhiku.worker.HostedModel;
import ai.zhiku.worker.WorkerConfig;
import ai.zhiku.worker.WorkerServer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;

/**
 * Controller, one worker per model and the api-server in one JVM, talking real gRPC on loopback:
 * what the serving benchmarks measure. Closes in reverse order of starting.
 */
final class InProcessStack implements AutoCloseable {
  private final ControllerServer controller;
  private final List<WorkerServer> workers = new ArrayList<>();
  private final ApiServer api;
  private final int port;

  /**
   * @param workerLimit requests each worker serves at once; {@code workerQueue} more may wait
   * @param kbEmbeddingModel the model knowledge-base requests would embed with (the api-server's default)
   */
  InProcessStack(Vertx vertx, int workerLimit, int workerQueue, String kbEmbeddingModel, HostedModel... models)
      throws Exception {
    controller = new ControllerServer(vertx, new ControllerConfig("127.0.0.1", 0, 6000, "shortest_queue"));
    String ctrl = "http://127.0.0.1:" + await(controller.start());
    for (HostedModel model : models) {
      WorkerConfig wc = WorkerConfig.defaults().local(ctrl, null, model.names()).withLimits(workerLimit, workerQueue);
      WorkerServer worker = new WorkerServer(vertx, wc, model);
      await(worker.start());
      workers.add(worker);
    }
    api = new ApiServer(vertx, new ApiServerConfig("127.0.0.1", 0, ctrl, List.of(), List.of(), 8 << 20, 64 << 20, 1000,
        null, 2, kbEmbeddingModel), null);
    port = await(api.start());
  }

  /** The api-server's HTTP port. */
  int port() { return port; }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get();
  }

  @Override
  public void close() throws Exception {
    await(api.close());
    for (WorkerServer w : workers) await(w.close());
    await(controller.close());
  }
}
