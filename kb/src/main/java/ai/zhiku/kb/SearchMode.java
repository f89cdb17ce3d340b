package ai.zhiku.kb;

import ai.zhiku.common.ZhikuException;
import java.util.Locale;

/** How a search ranks chunks. */
public enum SearchMode {
  /** cosine similarity of embeddings (pgvector HNSW) */
  DENSE,
  /** BM25 over character bigrams and words */
  KEYWORD,
  /** both, fused by score-normalised weighted sum favouring keyword */
  HYBRID;

  /** Parses the wire name; null means hybrid. */
  public static SearchMode parse(String s) {
    if (s == null) {
      return HYBRID;
    }
    return switch (s.toLowerCase(Locale.ROOT)) {
      case "dense" -> DENSE;
      case "keyword" -> KEYWORD;
      case "hybrid" -> HYBRID;
      default -> throw ZhikuException.invalid("mode", "mode must be one of dense, keyword, hybrid; got '" + s + "'");
    };
  }

  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
