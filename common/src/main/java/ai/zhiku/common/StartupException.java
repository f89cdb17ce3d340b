package ai.zhiku.common;

/**
 * A start-up failure told as one sentence: what failed (naming the file, field, port or URL) and
 * what to do. The launcher prints the message alone, and the stack trace only under --verbose.
 */
public final class StartupException extends RuntimeException {
  public StartupException(String sentence) {
    super(sentence);
  }

  public StartupException(String sentence, Throwable cause) {
    super(sentence, cause);
  }

  /** A JDBC URL with its password (query parameter or user:password@) replaced by ***. */
  public static String redact(String url) {
    if (url == null) {
      return null;
    }
    return url.replaceAll("(?i)(password=)[^&;]*", "$1***").replaceAll("//([^/@:]+):[^/@]*@", "//$1:***@");
  }
}
