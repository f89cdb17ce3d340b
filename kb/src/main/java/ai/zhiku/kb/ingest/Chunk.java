package ai.zhiku.kb.ingest;

/**
 * One piece of a document as stored and searched.
 *
 * @param index position in the document, from 0
 * @param context heading path the chunk sits under ({@code "A > B"}), empty when none
 * @param text the chunk's own text
 */
public record Chunk(int index, String context, String text) {
  /** What gets embedded and keyword-indexed: the heading path, then the text. */
  public String indexedText() {
    return context.isEmpty() ? text : context + "\n" + text;
  }
}
