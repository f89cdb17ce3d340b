package ai.zhiku.common;

import io.vertx.grpc.common.GrpcStatus;

/**
 * Every error Zhiku reports, with its HTTP status, OpenAI error {@code type} and gRPC status.
 * This table is the single mapping between the three vocabularies.
 */
public enum ErrorKind {
  INVALID_REQUEST(400, "invalid_request_error", GrpcStatus.INVALID_ARGUMENT),
  UNAUTHORIZED(401, "invalid_request_error", GrpcStatus.UNAUTHENTICATED),
  NOT_FOUND(404, "invalid_request_error", GrpcStatus.NOT_FOUND),
  PAYLOAD_TOO_LARGE(413, "invalid_request_error", GrpcStatus.INVALID_ARGUMENT),
  OVERLOADED(429, "rate_limit_error", GrpcStatus.RESOURCE_EXHAUSTED),
  UNAVAILABLE(503, "service_unavailable", GrpcStatus.UNAVAILABLE),
  INTERNAL(500, "server_error", GrpcStatus.INTERNAL);

  private final int httpStatus;
  private final String openAiType;
  private final GrpcStatus grpcStatus;

  ErrorKind(int httpStatus, String openAiType, GrpcStatus grpcStatus) {
    this.httpStatus = httpStatus;
    this.openAiType = openAiType;
    this.grpcStatus = grpcStatus;
  }

  public int httpStatus() { return httpStatus; }

  public String openAiType() { return openAiType; }

  public GrpcStatus grpcStatus() { return grpcStatus; }

  /** The kind a gRPC status received from another process stands for. */
  public static ErrorKind fromGrpc(GrpcStatus status) {
    return switch (status) {
      case INVALID_ARGUMENT, OUT_OF_RANGE, FAILED_PRECONDITION -> INVALID_REQUEST;
      case UNAUTHENTICATED, PERMISSION_DENIED -> UNAUTHORIZED;
      case NOT_FOUND -> NOT_FOUND;
      case RESOURCE_EXHAUSTED -> OVERLOADED;
      case UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, ABORTED -> UNAVAILABLE;
      default -> INTERNAL;
    };
  }
}
