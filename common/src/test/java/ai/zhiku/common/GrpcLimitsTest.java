package ai.zhiku.common;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.grpc.common.GrpcStatus;
import org.junit.jupiter.api.Test;

class GrpcLimitsTest {

  @Test
  void defaultsHoldAFullBodyAndAFullEmbeddingsBatch() {
    long body = GrpcLimits.DEFAULT_MAX_BODY_BYTES;
    assertThat(GrpcLimits.requestBytes(body)).isEqualTo(2 * body + (4 << 20));
    // a full body plus the most a knowledge-base chat adds (100 chunks of 8,000 four-byte characters), even for small bodies
    assertThat(GrpcLimits.requestBytes(1024)).isGreaterThan(1024 + 100 * 8000 * 4);
    // 2,048 vectors of 1,024 float32 (about 8.4 MB with their framing), and of 4,096 (33.6 MB)
    long perVector = 1024 * 4 + 8;
    assertThat(GrpcLimits.replyBytes(body)).isGreaterThan(2048 * perVector);
    assertThat(GrpcLimits.replyBytes(1024)).isGreaterThan(2048L * (4096 * 4 + 8));
    assertThat(GrpcLimits.replyBytes(body)).isEqualTo(4 * body + (1 << 20));
  }

  @Test
  void hugeBodyLimitsSaturate() {
    assertThat(GrpcLimits.requestBytes(Long.MAX_VALUE / 2)).isEqualTo(Long.MAX_VALUE);
    assertThat(GrpcLimits.replyBytes(Long.MAX_VALUE)).isEqualTo(Long.MAX_VALUE);
  }

  @Test
  void resourceExhaustedIs429OnlyForAFullQueue() {
    assertThat(ErrorKind.fromGrpc(GrpcStatus.RESOURCE_EXHAUSTED, ErrorKind.CODE_OVERLOADED)).isEqualTo(ErrorKind.OVERLOADED);
    // gRPC's own answer to a message over the size limit carries no code: retrying cannot help
    assertThat(ErrorKind.fromGrpc(GrpcStatus.RESOURCE_EXHAUSTED, null)).isEqualTo(ErrorKind.PAYLOAD_TOO_LARGE);
    assertThat(ErrorKind.fromGrpc(GrpcStatus.INVALID_ARGUMENT, ErrorKind.CODE_TOO_LARGE)).isEqualTo(ErrorKind.PAYLOAD_TOO_LARGE);
    assertThat(ErrorKind.fromGrpc(GrpcStatus.INVALID_ARGUMENT, "context_length_exceeded")).isEqualTo(ErrorKind.INVALID_REQUEST);
    assertThat(ErrorKind.PAYLOAD_TOO_LARGE.httpStatus()).isEqualTo(413);
  }
}
