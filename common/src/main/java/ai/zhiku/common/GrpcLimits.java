package ai.zhiku.common;

/**
 * The gRPC message size limits of every hop, derived from one setting: {@code --max-body-bytes},
 * the largest HTTP body the api-server accepts (default 8 MiB). gRPC's default of 256 KiB is far
 * below what one valid request needs (a 300 KB prompt, 2,048 embeddings), and a message over a
 * limit fails in ways clients misread, so every process sets its limits from here.
 */
public final class GrpcLimits {
  /** The body limit every process assumes unless told otherwise (the api-server's default). */
  public static final long DEFAULT_MAX_BODY_BYTES = 8L << 20;
  /** The most inputs one embeddings request may carry (OpenAI's limit). */
  public static final int MAX_EMBEDDING_INPUTS = 2048;
  /** The widest embedding the reply limit is sized for. */
  public static final int MAX_EMBEDDING_DIMENSION = 4096;
  private static final long MARGIN = 1L << 20;
  private static final long KB_CONTEXT_MARGIN = 4L << 20;

  private GrpcLimits() {}

  /**
   * The largest request message (api-server to worker): the body limit twice over plus 4 MiB. A
   * request's text never grows from JSON to protobuf, but a chat naming a knowledge base carries
   * the retrieved context on top of what the client sent: at most 100 chunks of 8,000 characters,
   * 3.2 MB of UTF-8 at worst, whatever the body limit is.
   */
  public static long requestBytes(long maxBodyBytes) {
    return saturatedAdd(saturatedMul(Math.max(maxBodyBytes, 1024), 2), KB_CONTEXT_MARGIN);
  }

  /**
   * The largest reply message (worker to api-server): four times the body limit, and at least what
   * 2,048 embeddings of 4,096 float32 values take (32 MiB), plus 1 MiB; so a full embeddings batch
   * always fits, whatever the body limit is.
   */
  public static long replyBytes(long maxBodyBytes) {
    long embeddings = (long) MAX_EMBEDDING_INPUTS * MAX_EMBEDDING_DIMENSION * Float.BYTES;
    return saturatedAdd(Math.max(saturatedMul(Math.max(maxBodyBytes, 1024), 4), embeddings), MARGIN);
  }

  /** HTTP/2 streams beyond a worker's admission capacity: room for its quick refusals (429) and small calls. */
  public static final int STREAM_HEADROOM = 64;
  /** HTTP/2's default initial window of one stream (bytes). */
  public static final int STREAM_WINDOW = 65_535;

  /**
   * The concurrent HTTP/2 streams a worker accepts on one connection, and the most calls an
   * api-server keeps open to it: everything its admission gate can hold (running and queued) plus
   * headroom. So a request beyond the worker's capacity reaches the gate and gets its 429 at once,
   * instead of waiting in a client-side queue behind HTTP/2's default limit of 100 streams.
   */
  public static int workerStreams(int limitWorkerConcurrency, int maxQueue) {
    long n = (long) Math.max(limitWorkerConcurrency, 1) + Math.max(maxQueue, 0) + STREAM_HEADROOM;
    return (int) Math.min(Math.max(n, 100), 1 << 20);
  }

  /**
   * An HTTP/2 connection window with room for every stream's own window: a stream whose reader is
   * paused (a slow client) holds at most its own window, never the connection's, so it cannot
   * stall the other streams on the same connection.
   */
  public static int connectionWindow(int streams) {
    return (int) Math.min((long) streams * STREAM_WINDOW, Integer.MAX_VALUE);
  }

  /** Most generations one request may fan out to (completions: prompts x n). */
  public static final int MAX_GENERATIONS = 2048;

  /**
   * Stream resets a worker accepts from one connection per 30 s before it treats them as a rapid-reset
   * flood and closes the connection (Vert.x's default is 200): the api-server legitimately cancels every
   * stream of a request at once when one of its generations fails or its client goes away, which for
   * one completions request may be {@link #MAX_GENERATIONS}. A flood is millions a second.
   */
  public static int resetsPerWindow(int streams) {
    return Math.max(8 * MAX_GENERATIONS, 8 * streams);
  }

  private static long saturatedMul(long a, long b) {
    long r = a * b;
    return (a != 0 && (r / a != b || r < 0)) ? Long.MAX_VALUE : r;
  }

  private static long saturatedAdd(long a, long b) {
    long r = a + b;
    return r < 0 ? Long.MAX_VALUE : r;
  }
}
