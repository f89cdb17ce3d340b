package ai.zhiku.common;

import io.vertx.grpc.common.GrpcStatus;

/**
 * Every error Zhiku reports, with its HTTP status, OpenAI error {@code type} and gRPC status.
 * This table is the single mapping between the three vocabularies.
 */
public enum ErrorKind {
  INVALID_REQUEST(400, "invalid_request_error", GrpcStatus.INVALID_ARGUMENT),
  UNAUTHORIZED(401, "invalid_request_error", GrpcStatus.UNAUTHENTICATED),
  /** Refused whatever the credentials: a browser page on an origin the CORS policy does not allow. */
  FORBIDDEN(403, "invalid_request_error", GrpcStatus.PERMISSION_DENIED),
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

  /** The {@code code} an over-limit request carries (a body or gRPC message too large). */
  public static final String CODE_TOO_LARGE = "request_too_large";
  /** The {@code code} of a full worker queue: the only RESOURCE_EXHAUSTED that is a 429. */
  public static final String CODE_OVERLOADED = "overloaded";

  /**
   * The kind a gRPC status received from another process stands for, given the error code that came
   * with it (null when none did). RESOURCE_EXHAUSTED is a 429 only when the worker said its queue is
   * full ({@link #CODE_OVERLOADED}); gRPC itself answers RESOURCE_EXHAUSTED for a message over the size
   * limit, which retrying can never fix, so without that code it is a 413.
   */
  public static ErrorKind fromGrpc(GrpcStatus status, String code) {
    if (CODE_TOO_LARGE.equals(code)) {
      return PAYLOAD_TOO_LARGE;
    }
    return switch (status) {
      case INVALID_ARGUMENT, OUT_OF_RANGE, FAILED_PRECONDITION -> INVALID_REQUEST;
      case UNAUTHENTICATED, PERMISSION_DENIED -> UNAUTHORIZED;
      case NOT_FOUND -> NOT_FOUND;
      case RESOURCE_EXHAUSTED -> CODE_OVERLOADED.equals(code) ? OVERLOADED : PAYLOAD_TOO_LARGE;
      case UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, ABORTED -> UNAVAILABLE;
      default -> INTERNAL;
    };
  }
}
