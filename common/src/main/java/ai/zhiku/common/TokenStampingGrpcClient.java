package ai.zhiku.common;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.Address;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.common.ServiceMethod;

/** A {@link GrpcClient} that sets the cluster token's header on every request it opens ({@link ClusterToken#stamping}). */
final class TokenStampingGrpcClient implements GrpcClient {
  private final GrpcClient delegate;
  private final String headerValue;

  TokenStampingGrpcClient(GrpcClient delegate, String headerValue) {
    this.delegate = delegate;
    this.headerValue = headerValue;
  }

  private <Q, R> GrpcClientRequest<Q, R> stamp(GrpcClientRequest<Q, R> req) {
    req.headers().set(ClusterToken.HEADER, headerValue);
    return req;
  }

  @Override
  public Future<GrpcClientRequest<Buffer, Buffer>> request(Address server) {
    return delegate.request(server).map(this::stamp);
  }

  @Override
  public Future<GrpcClientRequest<Buffer, Buffer>> request() {
    return delegate.request().map(this::stamp);
  }

  @Override
  public <Q, R> Future<GrpcClientRequest<Q, R>> request(Address server, ServiceMethod<R, Q> method) {
    return delegate.request(server, method).map(this::stamp);
  }

  @Override
  public <Q, R> Future<GrpcClientRequest<Q, R>> request(ServiceMethod<R, Q> method) {
    return delegate.request(method).map(this::stamp);
  }

  @Override
  public Future<Void> close() {
    return delegate.close();
  }
}
