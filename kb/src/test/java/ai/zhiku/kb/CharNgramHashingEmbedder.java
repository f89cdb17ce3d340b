package ai.zhiku.kb;

import ai.zhiku.kb.search.KeywordAnalyzer;
import java.util.ArrayList;
import java.util.List;

/**
 * Test double for an embedding model: hashes the text's keyword terms (character bigrams, words) and single
 * characters into a fixed-size signed vector and L2-normalises it. Deterministic, no model needed; similar
 * texts get similar vectors, which is all the storage and search code needs to be exercised for real.
 */
public final class CharNgramHashingEmbedder implements Embedder {
  private final int dimension;

  public CharNgramHashingEmbedder(int dimension) {
    this.dimension = dimension;
  }

  @Override
  public List<float[]> embed(List<String> texts, boolean query) {
    List<float[]> out = new ArrayList<>(texts.size());
    for (String t : texts) {
      float[] v = new float[dimension];
      for (String term : KeywordAnalyzer.terms(t)) {
        add(v, term, 1f);
      }
      t.codePoints().filter(Character::isLetterOrDigit)
          .forEach(cp -> add(v, new String(Character.toChars(cp)), 0.3f));
      double norm = 0;
      for (float x : v) {
        norm += x * x;
      }
      float inv = norm == 0 ? 0 : (float) (1 / Math.sqrt(norm));
      for (int i = 0; i < dimension; i++) {
        v[i] = norm == 0 ? (i == 0 ? 1 : 0) : v[i] * inv;
      }
      out.add(v);
    }
    return out;
  }

  private void add(float[] v, String term, float weight) {
    int h = mix(term.hashCode());
    int idx = Math.floorMod(h, dimension);
    v[idx] += ((h >>> 31) == 0 ? weight : -weight);
  }

  private static int mix(int h) {
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    h ^= h >>> 16;
    return h;
  }

  @Override
  public int dimension() {
    return dimension;
  }
}
