package ai.zhiku.kb;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Test double producing synthetic embeddings: a unit vector drawn from a generator seeded by the text's hash.
 * Deterministic and cheap; carries no meaning, so it serves only storage and latency measurements.
 */
public final class RandomVectorEmbedder implements Embedder {
  private final int dimension;

  public RandomVectorEmbedder(int dimension) {
    this.dimension = dimension;
  }

  @Override
  public List<float[]> embed(List<String> texts, boolean query) {
    List<float[]> out = new ArrayList<>(texts.size());
    for (String t : texts) {
      SplittableRandom r = new SplittableRandom(t.hashCode() * 0x9E3779B97F4A7C15L);
      float[] v = new float[dimension];
      double norm = 0;
      for (int i = 0; i < dimension; i++) {
        v[i] = (float) (r.nextDouble() * 2 - 1);
        norm += v[i] * v[i];
      }
      float inv = (float) (1 / Math.sqrt(norm));
      for (int i = 0; i < dimension; i++) {
        v[i] *= inv;
      }
      out.add(v);
    }
    return out;
  }

  @Override
  public int dimension() {
    return dimension;
  }
}
