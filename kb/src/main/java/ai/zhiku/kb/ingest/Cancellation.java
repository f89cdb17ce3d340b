package ai.zhiku.kb.ingest;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;

/**
 * Says that the caller of a long operation (an upload whose HTTP client has gone) no longer wants its
 * result. The operation polls {@link #check()} between its steps and stops there; nothing it had not yet
 * committed is stored. Thread-safe: one thread cancels, another checks.
 */
public final class Cancellation {
  /** A token that is never cancelled. */
  public static final Cancellation NONE = new Cancellation();

  /** The {@code code} of the exception a cancelled operation ends with. */
  public static final String CODE = "upload_cancelled";

  private volatile String reason;

  /** Cancels, giving the reason the operation's exception will carry; later calls change nothing. */
  public void cancel(String why) {
    if (this == NONE) {
      throw new IllegalStateException("Cancellation.NONE cannot be cancelled");
    }
    if (reason == null) {
      reason = why == null ? "cancelled" : why;
    }
  }

  public boolean isCancelled() {
    return reason != null;
  }

  /** Throws the cancellation (INVALID_REQUEST, code {@value #CODE}) once {@link #cancel} was called. */
  public void check() {
    String why = reason;
    if (why != null) {
      throw new ZhikuException(ErrorKind.INVALID_REQUEST, "the upload was cancelled: " + why, "file", CODE);
    }
  }
}
