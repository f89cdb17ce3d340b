package ai.zhiku.kb.ingest;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;

/**
 * The limits of reading one document, with its clock: started when parsing starts, polled by the parsers
 * between pages, zip entries and reads, and by anything that grows the text.
 */
final class ParseBudget {
  static final String CODE = "document_too_large";

  private final String fileName;
  private final DocumentLimits limits;
  private final Cancellation cancellation;
  private final long deadline;

  ParseBudget(String fileName, DocumentLimits limits, Cancellation cancellation) {
    this.fileName = fileName;
    this.limits = limits;
    this.cancellation = cancellation;
    this.deadline = System.nanoTime() + limits.maxParseTime().toNanos();
  }

  DocumentLimits limits() {
    return limits;
  }

  /** Stops a cancelled upload, and one whose reading has run past the parse time limit. */
  void check() {
    cancellation.check();
    if (System.nanoTime() - deadline > 0) {
      throw tooLarge("took longer than " + limits.maxParseTime().toSeconds() + " s to read (the limit on"
          + " parse time)");
    }
  }

  /** Refuses text longer than the cap, as soon as it is longer. */
  void text(long chars) {
    if (chars > limits.maxTextChars()) {
      throw tooLarge("yields more than " + String.format(java.util.Locale.ROOT, "%,d", limits.maxTextChars())
          + " characters of text (the limit on extracted text)");
    }
  }

  ZhikuException tooLarge(String what) {
    return new ZhikuException(ErrorKind.PAYLOAD_TOO_LARGE, "document '" + fileName + "' " + what
        + "; split it into smaller documents", "file", CODE);
  }

  static String mib(long bytes) {
    return bytes % (1 << 20) == 0 ? (bytes >> 20) + " MiB" : String.format(java.util.Locale.ROOT, "%,d bytes", bytes);
  }
}
