package ai.zhiku.common;

/**
 * The one exception type that crosses module edges. It carries what the client needs to see: the
 * kind (status), a message that says what was wrong and what is allowed, and optionally the
 * offending parameter and an OpenAI-style {@code code}. Messages never contain internal paths.
 */
public class ZhikuException extends RuntimeException {
  private final ErrorKind kind;
  private final String param;
  private final String code;

  public ZhikuException(ErrorKind kind, String message, String param, String code, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.param = param;
    this.code = code;
  }

  public ZhikuException(ErrorKind kind, String message, String param, String code) {
    this(kind, message, param, code, null);
  }

  public ZhikuException(ErrorKind kind, String message) {
    this(kind, message, null, null, null);
  }

  public ErrorKind kind() { return kind; }

  public String param() { return param; }

  public String code() { return code; }

  public static ZhikuException invalid(String param, String message) {
    return new ZhikuException(ErrorKind.INVALID_REQUEST, message, param, null);
  }

  public static ZhikuException contextLength(String message) {
    return new ZhikuException(ErrorKind.INVALID_REQUEST, message, "messages", "context_length_exceeded");
  }

  public static ZhikuException notFound(String message, String code) {
    return new ZhikuException(ErrorKind.NOT_FOUND, message, null, code);
  }

  public static ZhikuException overloaded(String message) {
    return new ZhikuException(ErrorKind.OVERLOADED, message, null, ErrorKind.CODE_OVERLOADED);
  }

  public static ZhikuException tooLarge(String message) {
    return new ZhikuException(ErrorKind.PAYLOAD_TOO_LARGE, message, null, ErrorKind.CODE_TOO_LARGE);
  }

  public static ZhikuException unavailable(String message) {
    return new ZhikuException(ErrorKind.UNAVAILABLE, message, null, "service_unavailable");
  }

  public static ZhikuException internal(String message, Throwable cause) {
    return new ZhikuException(ErrorKind.INTERNAL, message, null, "internal_error", cause);
  }
}
