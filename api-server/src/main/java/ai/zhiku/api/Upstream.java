package ai.zhiku.api;

import ai.zhiku.common.Addresses;
import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.GrpcLimits;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.protocol.ControllerGrpcClient;
import ai.zhiku.protocol.DispatchRequest;
import ai.zhiku.protocol.GenerateChunk;
import ai.zhiku.protocol.GenerateRequest;
import ai.zhiku.protocol.ListModelsRequest;
import ai.zhiku.protocol.ModelCard;
import ai.zhiku.protocol.WorkerGrpcClient;
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
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The api-server's side of gRPC: the model list (cached, so a request costs at most one controller
 * call: Dispatch), dispatch, and calls to workers with one retry path: a worker that cannot be
 * reached before it sent anything is excluded and another is dispatched.
 */
public final class Upstream {
  private static final Logger log = LoggerFactory.getLogger(Upstream.class);
  private static final int MAX_ATTEMPTS = 3;

  private final GrpcClient client;
  private final ControllerGrpcClient controller;
  private final long cacheMs;
  private final long replyLimit;
  private final ConcurrentHashMap<String, SocketAddress> sockets = new ConcurrentHashMap<>();
  private volatile List<ModelCard> cachedModels;
  private volatile long cachedAt;

  /**
   * @param maxBodyBytes the HTTP body limit; the largest reply read from a worker is derived from it
   *     ({@link GrpcLimits#replyBytes}: 2,048 embeddings always fit)
   */
  public Upstream(Vertx vertx, String controllerAddress, long modelsCacheMs, long maxBodyBytes) {
    this.replyLimit = GrpcLimits.replyBytes(maxBodyBytes);
    this.client = GrpcClient.client(vertx, new GrpcClientOptions().setMaxMessageSize(replyLimit),
        new HttpClientOptions().setConnectTimeout(2000));
    this.controller = ControllerGrpcClient.create(client, Addresses.parse("controller-address", controllerAddress));
    this.cacheMs = modelsCacheMs;
  }

  public Future<List<ModelCard>> models() {
    List<ModelCard> cached = cachedModels;
    if (cached != null && System.currentTimeMillis() - cachedAt < cacheMs) {
      return Future.succeededFuture(cached);
    }
    return refreshModels();
  }

  private Future<List<ModelCard>> refreshModels() {
    return controller.listModels(ListModelsRequest.getDefaultInstance())
        .map(reply -> {
          cachedModels = List.copyOf(reply.getModelsList());
          cachedAt = System.currentTimeMillis();
          return cachedModels;
        })
        .recover(err -> Future.failedFuture(ZhikuException.unavailable("the controller cannot be reached: " + err.getMessage())));
  }

  /** The model's card, or 404 model_not_found. A miss refreshes the list once, so new workers show up at once. */
  public Future<ModelCard> model(String name) {
    return models().compose(list -> {
      ModelCard card = find(list, name);
      if (card != null) {
        return Future.succeededFuture(card);
      }
      return refreshModels().compose(fresh -> {
        ModelCard c = find(fresh, name);
        return c != null ? Future.succeededFuture(c) : Future.failedFuture(modelNotFound(name));
      });
    });
  }

  /** The name is known (from the cache) without a call; used to keep metric labels bounded. */
  public boolean isKnownModel(String name) {
    List<ModelCard> cached = cachedModels;
    return cached != null && find(cached, name) != null;
  }

  private static ModelCard find(List<ModelCard> list, String name) {
    for (ModelCard c : list) {
      if (c.getName().equals(name)) {
        return c;
      }
    }
    return null;
  }

  public static ZhikuException modelNotFound(String name) {
    return new ZhikuException(ErrorKind.NOT_FOUND, "The model `" + name + "` does not exist or you do not have access to it.", "model", "model_not_found");
  }

  private Future<SocketAddress> dispatch(String model, Set<String> exclude) {
    return controller.dispatch(DispatchRequest.newBuilder().setModel(model).addAllExcludeAddresses(exclude).build())
        .recover(err -> Future.failedFuture(ZhikuException.unavailable("the controller cannot be reached: " + err.getMessage())))
        .compose(reply -> {
          if (reply.getWorkerAddress().isEmpty()) {
            return Future.failedFuture(ZhikuException.unavailable("No worker is available for model `" + model + "` right now; try again shortly."));
          }
          return Future.succeededFuture(sockets.computeIfAbsent(reply.getWorkerAddress(), a -> Addresses.parse("worker-address", a)));
        });
  }

  // ------------------------------------------------------------------ unary calls

  /** A unary call to a worker of {@code model}, dispatched again when a worker is unreachable. */
  public <Req, Resp> Future<Resp> unary(String model, ServiceMethod<Resp, Req> method, Req message) {
    return unaryAttempt(model, method, message, new HashSet<>(), 1);
  }

  private <Req, Resp> Future<Resp> unaryAttempt(String model, ServiceMethod<Resp, Req> method, Req message, Set<String> exclude, int attempt) {
    return dispatch(model, exclude).compose(addr -> unaryAt(addr, method, message).recover(err -> {
      if (isUnreachable(err) && attempt < MAX_ATTEMPTS) {
        log.warn("worker {} unreachable ({}); dispatching again", addr, err.getMessage());
        exclude.add(Addresses.canonical(addr));
        return unaryAttempt(model, method, message, exclude, attempt + 1);
      }
      return Future.failedFuture(toZhiku(err));
    }));
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

  /** A generation in flight; cancel() resets the gRPC stream and the worker frees the sequence. */
  public static final class StreamCall {
    private volatile GrpcClientRequest<GenerateRequest, GenerateChunk> request;
    private volatile boolean cancelled;

    public void cancel() {
      cancelled = true;
      GrpcClientRequest<GenerateRequest, GenerateChunk> r = request;
      if (r != null) {
        try {
          r.cancel();
        } catch (RuntimeException ignored) {
          // already ended
        }
      }
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
    }).onSuccess(addr -> {
      if (call.cancelled) {
        return; // the client left while the controller picked a worker: send nothing
      }
      boolean[] received = new boolean[1];
      java.util.function.Consumer<Throwable> retryOrFail = err -> {
        if (!received[0] && !call.cancelled && isUnreachable(err) && attempt < MAX_ATTEMPTS) {
          log.warn("worker {} unreachable before any token ({}); dispatching again", addr, err.getMessage());
          exclude.add(Addresses.canonical(addr));
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
    return client.close();
  }
}
