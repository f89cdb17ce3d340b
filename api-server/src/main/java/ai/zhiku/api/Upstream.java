package ai.zhiku.api;

import ai.zhiku.common.Addresses;
import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.GrpcLimits;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.protocol.ControllerGrpcClient;
import ai.zhiku.protocol.GenerateChunk;
import ai.zhiku.protocol.GenerateRequest;
import ai.zhiku.protocol.ModelCard;
import ai.zhiku.protocol.WorkerGrpcClient;
import ai.zhiku.protocol.WorkerStatusRequest;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.MessageSizeOverflowException;
import io.vertx.grpc.common.ServiceMethod;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The api-server's side of gRPC. It keeps its own copy of the worker table ({@link WorkerTable},
 * polled from the controller every {@code pollMs} and at once when a model is not in it) and
 * dispatches from it with the controller's policy, so the controller is in no request's path: while
 * it is down the last table keeps serving. A worker that cannot be reached before it sent anything
 * is excluded and another is picked. Calls open to one worker are capped at the HTTP/2 streams it
 * accepts ({@link GrpcLimits#workerStreams}), so nothing waits in an unbounded client-side queue.
 */
public final class Upstream {
  private static final Logger log = LoggerFactory.getLogger(Upstream.class);
  private static final int MAX_ATTEMPTS = 3;

  private final Vertx vertx;
  private final GrpcClient client;
  private final ControllerGrpcClient controller;
  private final long pollMs;
  private final long replyLimit;
  private final WorkerTable table;
  private final java.util.concurrent.atomic.AtomicInteger pausedStreams = new java.util.concurrent.atomic.AtomicInteger();
  private Future<Void> refreshing;
  private long pollTimer = -1;
  private volatile boolean controllerReachable;

  /**
   * @param pollMs how often the worker table is fetched from the controller
   * @param retentionMs how long a model that was served answers 503 (retry), not 404, once no worker serves it
   * @param maxBodyBytes the HTTP body limit; the largest reply read from a worker is derived from it
   *     ({@link GrpcLimits#replyBytes}: 2,048 embeddings always fit)
   * @param clusterToken the secret every call to the controller and workers carries; null: none
   */
  public Upstream(Vertx vertx, String controllerAddress, long pollMs, long retentionMs, long maxBodyBytes, String clusterToken) {
    this.vertx = vertx;
    this.replyLimit = GrpcLimits.replyBytes(maxBodyBytes);
    int streams = GrpcLimits.workerStreams(64, 256);
    this.client = ai.zhiku.common.ClusterToken.stamping(clusterToken, GrpcClient.client(vertx, new GrpcClientOptions().setMaxMessageSize(replyLimit),
        new HttpClientOptions().setConnectTimeout(2000)
            // the workers' own stream limit applies (their admission capacity plus headroom); a
            // paused stream (a slow client) holds only its own window of the connection's
            .setHttp2MultiplexingLimit(-1).setHttp2ConnectionWindowSize(GrpcLimits.connectionWindow(streams))
            // an idle pooled connection is closed by this side, well before the listeners' idle timeout
            .setHttp2KeepAliveTimeout(30)));
    this.controller = ControllerGrpcClient.create(client, Addresses.parse("controller-address", controllerAddress));
    this.pollMs = Math.max(50, pollMs);
    this.table = new WorkerTable(retentionMs, System::currentTimeMillis);
  }

  /** Loads the table once and keeps polling; succeeds even when the controller is not up yet. */
  public Future<Void> start() {
    pollTimer = vertx.setPeriodic(pollMs, id -> refresh());
    return refresh().otherwiseEmpty();
  }

  /** One WorkerStatus call at a time; concurrent callers share it. */
  private synchronized Future<Void> refresh() {
    if (refreshing != null) {
      return refreshing;
    }
    Future<Void> f = controller.workerStatus(WorkerStatusRequest.getDefaultInstance())
        .<Void>map(reply -> {
          table.update(reply);
          if (!controllerReachable) {
            log.info("controller reachable: {} workers", reply.getWorkersCount());
          }
          controllerReachable = true;
          return null;
        })
        .recover(err -> {
          if (controllerReachable) {
            log.warn("controller unreachable ({}); serving the {} workers known", err.getMessage(), table.size());
          }
          controllerReachable = false;
          return Future.failedFuture(ZhikuException.unavailable("the controller cannot be reached: " + err.getMessage()));
        });
    refreshing = f;
    f.onComplete(ar -> {
      synchronized (this) {
        refreshing = null;
      }
    });
    return f;
  }

  /** The models served now: the last table, or (before the first one) a fetch. */
  public Future<List<ModelCard>> models() {
    if (table.loaded()) {
      return Future.succeededFuture(table.models());
    }
    return refresh().map(v -> table.models());
  }

  /**
   * The model's card. A miss fetches the table once, so new workers show up at once; a model still
   * missing is 503 (retry) when it was served within the retention time, else 404.
   */
  public Future<ModelCard> model(String name) {
    ModelCard card = table.card(name);
    if (card != null) {
      return Future.succeededFuture(card);
    }
    return refresh().transform(ar -> {
      if (ar.failed() && !table.loaded()) {
        return Future.failedFuture(ar.cause());
      }
      ModelCard c = table.card(name);
      return c != null ? Future.succeededFuture(c) : Future.failedFuture(notServed(name));
    });
  }

  private ZhikuException notServed(String name) {
    long ago = table.servedAgoMs(name);
    if (ago >= 0) {
      return ZhikuException.unavailable("The model `" + name + "` has no live worker right now (one served it "
          + Math.max(1, ago / 1000) + " s ago); try again shortly.");
    }
    return modelNotFound(name);
  }

  /** The name is known (from the table) without a call; used to keep metric labels bounded. */
  public boolean isKnownModel(String name) {
    return table.card(name) != null;
  }

  /** Whether the last poll of the controller succeeded. */
  public boolean controllerReachable() {
    return controllerReachable;
  }

  /** Calls open from here to each worker now. */
  public java.util.Map<String, Integer> inFlight() {
    return table.inFlight();
  }

  /** Streams whose worker reply is paused now because their client reads slower than the model writes. */
  public int pausedStreams() {
    return pausedStreams.get();
  }

  public static ZhikuException modelNotFound(String name) {
    return new ZhikuException(ErrorKind.NOT_FOUND, "The model `" + name + "` does not exist or you do not have access to it.", "model", "model_not_found");
  }

  /** A worker for the model from the local table; the pick is an open call until released. */
  private Future<WorkerTable.Pick> dispatch(String model, Set<String> exclude) {
    WorkerTable.Pick pick = table.pick(model, exclude);
    if (pick.found()) {
      return Future.succeededFuture(pick);
    }
    if (pick.atCapacity()) {
      return Future.failedFuture(ZhikuException.overloaded("every worker of model `" + model + "` has as many requests open from this server as it accepts ("
          + pick.cap() + "); try again shortly"));
    }
    return Future.failedFuture(ZhikuException.unavailable("No worker is available for model `" + model + "` right now; try again shortly."));
  }

  /** Releases a pick once, whichever way its call ends. */
  private Runnable releaser(WorkerTable.Pick pick) {
    java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
    return () -> {
      if (done.compareAndSet(false, true)) {
        table.release(pick.address());
      }
    };
  }

  private void unreachable(WorkerTable.Pick pick, Set<String> exclude) {
    exclude.add(Addresses.canonical(pick.socket()));
    table.unreachable(pick.address());
  }

  // ------------------------------------------------------------------ unary calls

  /** A unary call to a worker of {@code model}, dispatched again when a worker is unreachable. */
  public <Req, Resp> Future<Resp> unary(String model, ServiceMethod<Resp, Req> method, Req message) {
    return unaryAttempt(model, method, message, new HashSet<>(), 1);
  }

  private <Req, Resp> Future<Resp> unaryAttempt(String model, ServiceMethod<Resp, Req> method, Req message, Set<String> exclude, int attempt) {
    return dispatch(model, exclude).compose(pick -> {
      Runnable release = releaser(pick);
      return unaryAt(pick.socket(), method, message).andThen(ar -> release.run()).recover(err -> {
        if (isUnreachable(err) && attempt < MAX_ATTEMPTS) {
          log.warn("worker {} unreachable ({}); dispatching again", pick.address(), err.getMessage());
          unreachable(pick, exclude);
          return unaryAttempt(model, method, message, exclude, attempt + 1);
        }
        return Future.failedFuture(toZhiku(err));
      });
    });
  }

  private <Req, Resp> Future<Resp> unaryAt(SocketAddress addr, ServiceMethod<Resp, Req> method, Req message) {
    return client.request(addr, method).compose(req -> {
      req.end(message);
      return req.response().compose(resp -> {
        if (resp.status() != null && resp.status() != GrpcStatus.OK) {
          return Future.failedFuture(statusError(resp));
        }
        Promise<Resp> p = Promise.promise();
        Object[] last = new Object[1];
        resp.invalidMessageHandler(invalid -> p.tryFail(invalidReply(invalid)));
        resp.handler(m -> last[0] = m);
        resp.exceptionHandler(p::tryFail);
        resp.endHandler(v -> {
          if (resp.status() == GrpcStatus.OK && last[0] != null) {
            @SuppressWarnings("unchecked")
            Resp r = (Resp) last[0];
            p.tryComplete(r);
          } else {
            p.tryFail(statusError(resp));
          }
        });
        return p.future();
      });
    });
  }

  // ------------------------------------------------------------------ streaming generation

  /** Receives one generation's chunks on the event loop; exactly one of onEnd and onError ends it. */
  public interface StreamListener {
    void onChunk(GenerateChunk chunk);

    void onEnd();

    void onError(ZhikuException error);
  }

  /**
   * A generation in flight; cancel() resets the gRPC stream and the worker frees the sequence.
   * pause() stops reading the worker's reply (HTTP/2 flow control then holds the worker back) until
   * resume(); both run on the request's event loop.
   */
  public final class StreamCall {
    private volatile GrpcClientRequest<GenerateRequest, GenerateChunk> request;
    private volatile GrpcClientResponse<GenerateRequest, GenerateChunk> response;
    private volatile boolean cancelled;
    private volatile Runnable release = () -> { };
    private boolean paused;

    public void cancel() {
      cancelled = true;
      unpause();
      release.run();
      GrpcClientRequest<GenerateRequest, GenerateChunk> r = request;
      if (r != null) {
        try {
          r.cancel();
        } catch (RuntimeException ignored) {
          // already ended
        }
      }
    }

    public void pause() {
      if (paused || cancelled) {
        return;
      }
      paused = true;
      pausedStreams.incrementAndGet();
      GrpcClientResponse<GenerateRequest, GenerateChunk> r = response;
      if (r != null) {
        r.pause();
      }
    }

    public void resume() {
      if (!paused) {
        return;
      }
      unpause();
      GrpcClientResponse<GenerateRequest, GenerateChunk> r = response;
      if (r != null) {
        r.resume();
      }
    }

    private void unpause() {
      if (paused) {
        paused = false;
        pausedStreams.decrementAndGet();
      }
    }

    /** The worker's reply arrived: it starts paused when its client is slow already. */
    private void attach(GrpcClientResponse<GenerateRequest, GenerateChunk> r) {
      response = r;
      if (paused) {
        r.pause();
      }
    }

    /** The call ended (its reply, an error, or a retry elsewhere): no longer paused. */
    private void ended() {
      release.run();
      unpause();
    }
  }

  public StreamCall generate(String model, GenerateRequest message, StreamListener listener) {
    StreamCall call = new StreamCall();
    generateAttempt(model, message, listener, call, new HashSet<>(), 1);
    return call;
  }

  private void generateAttempt(String model, GenerateRequest message, StreamListener listener, StreamCall call, Set<String> exclude, int attempt) {
    if (call.cancelled) {
      return;
    }
    dispatch(model, exclude).onFailure(err -> {
      if (!call.cancelled) {
        listener.onError(toZhiku(err));
      }
    }).onSuccess(pick -> {
      Runnable release = releaser(pick);
      call.release = release;
      if (call.cancelled) {
        release.run();
        return; // the client left before a worker was picked: send nothing
      }
      SocketAddress addr = pick.socket();
      boolean[] received = new boolean[1];
      java.util.function.Consumer<Throwable> retryOrFail = err -> {
        call.ended();
        if (!received[0] && !call.cancelled && isUnreachable(err) && attempt < MAX_ATTEMPTS) {
          log.warn("worker {} unreachable before any token ({}); dispatching again", pick.address(), err.getMessage());
          unreachable(pick, exclude);
          generateAttempt(model, message, listener, call, exclude, attempt + 1);
        } else if (!call.cancelled) {
          listener.onError(toZhiku(err));
        }
      };
      client.request(addr, WorkerGrpcClient.Generate).onFailure(retryOrFail::accept).onSuccess(req -> {
        // set before the check, as cancel() sets its flag before reading this: whichever runs
        // second sees the other, so a cancel racing the stream's creation is never lost
        call.request = req;
        if (call.cancelled) {
          req.cancel(); // never sent: the worker hears nothing
          return;
        }
        req.end(message);
        req.response().onFailure(retryOrFail::accept).onSuccess(resp -> {
          if (resp.status() != null && resp.status() != GrpcStatus.OK) {
            retryOrFail.accept(statusError(resp));
            return;
          }
          call.attach(resp);
          resp.invalidMessageHandler(invalid -> {
            received[0] = true; // not retried: another worker would send the same
            retryOrFail.accept(invalidReply(invalid));
            req.cancel();
          });
          resp.handler(chunk -> {
            received[0] = true;
            listener.onChunk(chunk);
          });
          resp.exceptionHandler(err -> retryOrFail.accept(err));
          resp.endHandler(v -> {
            if (resp.status() == GrpcStatus.OK) {
              call.ended();
              listener.onEnd();
            } else {
              retryOrFail.accept(statusError(resp));
            }
          });
        });
      });
    });
  }

  // ------------------------------------------------------------------ errors

  private static ZhikuException statusError(GrpcClientResponse<?, ?> resp) {
    GrpcStatus status = resp.status() == null ? GrpcStatus.UNKNOWN : resp.status();
    String param = metadata(resp, "zhiku-error-param");
    String code = metadata(resp, "zhiku-error-code");
    ErrorKind kind = ErrorKind.fromGrpc(status, code);
    String message = resp.statusMessage();
    if (message == null || message.isEmpty()) {
      message = kind == ErrorKind.PAYLOAD_TOO_LARGE
          ? "The request is larger than the model worker accepts (its gRPC message limit, set from --max-body-bytes)."
          : "The model worker answered " + status.name() + ".";
    }
    if (kind == ErrorKind.PAYLOAD_TOO_LARGE && code == null) {
      code = ErrorKind.CODE_TOO_LARGE;
    }
    return new ZhikuException(kind, message, param, code);
  }

  /** A worker's reply that could not be read: over the message limit (a server-side setting, so a 500 that names it). */
  private ZhikuException invalidReply(Throwable invalid) {
    if (invalid instanceof MessageSizeOverflowException o) {
      return ZhikuException.internal("The model worker's reply (" + o.messageSize() + " bytes) is larger than the api-server reads ("
          + replyLimit + " bytes, derived from --max-body-bytes).", invalid);
    }
    return ZhikuException.internal("The model worker's reply could not be decoded: " + invalid, invalid);
  }

  /** Error metadata arrives in trailers, or in the headers of a trailers-only response. */
  private static String metadata(GrpcClientResponse<?, ?> resp, String name) {
    String v = resp.trailers() == null ? null : resp.trailers().get(name);
    if (v == null && resp.headers() != null) {
      v = resp.headers().get(name);
    }
    return v;
  }

  private static boolean isUnreachable(Throwable err) {
    if (err instanceof ZhikuException z) {
      return z.kind() == ErrorKind.UNAVAILABLE;
    }
    return err instanceof java.net.ConnectException || err instanceof io.vertx.core.http.HttpClosedException
        || err instanceof io.netty.channel.ConnectTimeoutException
        || (err.getMessage() != null && err.getMessage().contains("Connection refused"));
  }

  private static ZhikuException toZhiku(Throwable err) {
    if (err instanceof ZhikuException z) {
      return z;
    }
    if (isUnreachable(err)) {
      return ZhikuException.unavailable("The model worker cannot be reached: " + err.getMessage());
    }
    return ZhikuException.internal("The model worker failed: " + err.getMessage(), err);
  }

  public Future<Void> close() {
    if (pollTimer >= 0) {
      vertx.cancelTimer(pollTimer);
    }
    return client.close();
  }
}
