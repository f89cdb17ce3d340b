package ai.zhiku.kb.ingest;

import java.time.Duration;

/**
 * What one uploaded document may make the server do while it is read. Each cap is refused with a 413
 * ({@code document_too_large}, param {@code file}) whose message names the cap.
 *
 * @param maxDocxInflatedBytes bytes a .docx may inflate to, all its entries read so far together
 * @param maxDocxEntries entries a .docx may have before its word/document.xml
 * @param maxPdfPages pages of a PDF
 * @param maxParseTime how long reading one PDF or .docx may take (checked page by page and while reading)
 * @param maxTextChars characters of text a document may yield, in any format
 */
public record DocumentLimits(long maxDocxInflatedBytes, int maxDocxEntries, int maxPdfPages, Duration maxParseTime,
    int maxTextChars) {

  public static final DocumentLimits DEFAULTS = new DocumentLimits(256L << 20, 10_000, 2_000, Duration.ofSeconds(60),
      20_000_000);

  public DocumentLimits {
    if (maxDocxInflatedBytes < 1 || maxDocxEntries < 1 || maxPdfPages < 1 || maxTextChars < 1) {
      throw new IllegalArgumentException("document limits must be positive");
    }
    if (maxParseTime == null || maxParseTime.isNegative() || maxParseTime.isZero()) {
      throw new IllegalArgumentException("the parse time limit must be positive");
    }
  }

  public DocumentLimits withMaxDocxInflatedBytes(long bytes) {
    return new DocumentLimits(bytes, maxDocxEntries, maxPdfPages, maxParseTime, maxTextChars);
  }

  public DocumentLimits withMaxDocxEntries(int entries) {
    return new DocumentLimits(maxDocxInflatedBytes, entries, maxPdfPages, maxParseTime, maxTextChars);
  }

  public DocumentLimits withMaxPdfPages(int pages) {
    return new DocumentLimits(maxDocxInflatedBytes, maxDocxEntries, pages, maxParseTime, maxTextChars);
  }

  public DocumentLimits withMaxParseTime(Duration time) {
    return new DocumentLimits(maxDocxInflatedBytes, maxDocxEntries, maxPdfPages, time, maxTextChars);
  }

  public DocumentLimits withMaxTextChars(int chars) {
    return new DocumentLimits(maxDocxInflatedBytes, maxDocxEntries, maxPdfPages, maxParseTime, chars);
  }
}
