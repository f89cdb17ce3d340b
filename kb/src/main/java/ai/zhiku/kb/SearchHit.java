package ai.zhiku.kb;

/**
 * One retrieved chunk.
 *
 * @param text the chunk text
 * @param score in [0, 1], higher is better: cosine similarity (dense), BM25 relative to the query's best
 *     possible BM25 (keyword), or the fused score (hybrid)
 * @param document name of the document it came from
 * @param chunkIndex position of the chunk in that document
 */
public record SearchHit(String text, double score, String document, int chunkIndex) {}
