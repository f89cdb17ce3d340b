package ai.zhiku.kb;

import java.util.Locale;

/** What an upload did. */
public record AddDocumentResult(DocumentInfo document, Status status) {
  public enum Status {
    /** a new document name */
    CREATED,
    /** same name, same content: nothing changed */
    UNCHANGED,
    /** same name, new content: the document's chunks were replaced in one transaction */
    REPLACED;

    /** The lower-case form used on the wire. */
    public String wireName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }
}
