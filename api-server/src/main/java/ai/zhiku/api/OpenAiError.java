package ai.zhiku.api;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** OpenAI's error shape: {@code {"error":{"message","type","param","code"}}}, with the right status. */
public final class OpenAiError {
  private static final Logger log = LoggerFactory.getLogger(OpenAiError.class);

  private OpenAiError() {}

  public static ZhikuException wrap(Throwable t) {
    Throwable c = t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
    if (c instanceof ZhikuException z) {
      return z;
    }
    if (c instanceof IllegalArgumentException iae) {
      return ZhikuException.invalid(null, iae.getMessage());
    }
    log.error("unexpected failure", c);
    return ZhikuException.internal("The server had an error while processing your request.", c);
  }

  public static JsonObject body(ZhikuException e) {
    return new JsonObject().put("error", new JsonObject()
        .put("message", e.getMessage())
        .put("type", e.kind().openAiType())
        .put("param", e.param())
        .put("code", e.code()));
  }

  /** Ends the response with the error, unless the response has already ended or started. */
  public static void send(HttpServerResponse resp, Throwable t) {
    ZhikuException e = wrap(t);
    if (resp.ended() || resp.closed()) {
      return;
    }
    if (resp.headWritten()) {
      resp.end();
      return;
    }
    resp.setStatusCode(e.kind().httpStatus()).putHeader("content-type", "application/json");
    if (e.kind() == ErrorKind.OVERLOADED || e.kind() == ErrorKind.UNAVAILABLE) {
      resp.putHeader("retry-after", "1");
    }
    resp.end(body(e).encode());
  }
}
