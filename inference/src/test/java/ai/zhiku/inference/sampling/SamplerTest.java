package ai.zhiku.inference.sampling;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.engine.SamplingParams;
import java.util.List;
import org.junit.jupiter.api.Test;

class SamplerTest {
  static SamplingConfig cfg(Float t, Float topP, Integer topK, Float pres, Float freq, Float rep, Long seed) {
    return SamplingConfig.resolve(new SamplingParams(t, topP, topK, 10, List.of(), pres, freq, rep, seed), 100);
  }

  @Test
  void greedyTakesTheArgmax() {
    Sampler s = new Sampler(cfg(0f, null, null, null, null, null, null), 4, new int[0]);
    assertThat(s.sample(new float[] {0.1f, 2f, -1f, 1.9f})).isEqualTo(1);
  }

  @Test
  void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOfSeenTokens() {
    Sampler s = new Sampler(cfg(0f, null, null, null, null, 2f, null), 4, new int[] {1, 2});
    float[] logits = {1f, 3f, -1f, 1.4f};
    assertThat(s.sample(logits)).isEqualTo(1); // 3 / 2 = 1.5 still beats 1.4
    assertThat(logits).containsExactly(1f, 1.5f, -2f, 1.4f);
  }

  @Test
  void presenceAndFrequencyPenaltiesUseOutputCountsOnly() {
    Sampler s = new Sampler(cfg(0f, null, null, 0.5f, 0.25f, null, null), 3, new int[] {0});
    s.accept(1);
    s.accept(1);
    float[] logits = {1f, 2f, 1.2f};
    assertThat(s.sample(logits)).isEqualTo(2);
    assertThat(logits).containsExactly(1f, 2f - 0.5f - 0.5f, 1.2f);
  }

  @Test
  void topKOneAndTinyTopPAreGreedy() {
    float[] logits = {0.5f, 0.4f, 3f, 2.9f};
    for (int i = 0; i < 20; i++) {
      assertThat(new Sampler(cfg(1f, null, 1, null, null, null, (long) i), 4, new int[0]).sample(logits.clone())).isEqualTo(2);
      assertThat(new Sampler(cfg(1f, 0.01f, null, null, null, null, (long) i), 4, new int[0]).sample(logits.clone())).isEqualTo(2);
    }
  }

  @Test
  void topPKeepsTheSmallestSetReachingTheMass() {
    // probabilities 0.5, 0.3, 0.2: top_p 0.75 keeps the first two, never the third
    float[] logits = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.2)};
    int[] counts = new int[3];
    Sampler s = new Sampler(cfg(1f, 0.75f, null, null, null, null, 3L), 3, new int[0]);
    for (int i = 0; i < 2000; i++) counts[s.sample(logits.clone())]++;
    assertThat(counts[2]).isZero();
    assertThat(counts[0]).isBetween(1100, 1400); // 0.5 / 0.8 = 0.625
  }

  @Test
  void sameSeedSameDraws() {
    float[] logits = new float[50];
    for (int i = 0; i < logits.length; i++) logits[i] = (float) Math.sin(i);
    Sampler a = new Sampler(cfg(1f, null, null, null, null, null, 9L), 50, new int[0]);
    Sampler b = new Sampler(cfg(1f, null, null, null, null, null, 9L), 50, new int[0]);
    for (int i = 0; i < 50; i++) assertThat(a.sample(logits.clone())).isEqualTo(b.sample(logits.clone()));
  }

  @Test
  void heapSelectionEqualsSorting() {
    java.util.Random r = new java.util.Random(5);
    long[] a = new long[1000];
    for (int i = 0; i < a.length; i++) a[i] = r.nextLong();
    long[] sorted = a.clone();
    java.util.Arrays.sort(sorted);
    long[] b = a.clone();
    assertThat(Sampler.selectSmallest(b, b.length, 37)).isEqualTo(37);
    assertThat(java.util.Arrays.copyOf(b, 37)).isEqualTo(java.util.Arrays.copyOf(sorted, 37));
  }

  @Test
  void topKSamplesOnlyAmongTheKBest() {
    float[] logits = {5f, 4.9f, 4.8f, 0f, 0f, 0f};
    Sampler s = new Sampler(cfg(2f, null, 2, null, null, null, 11L), 6, new int[0]);
    java.util.Set<Integer> seen = new java.util.HashSet<>();
    for (int i = 0; i < 300; i++) seen.add(s.sample(logits.clone()));
    assertThat(seen).containsExactlyInAnyOrder(0, 1);
  }

  /** The threshold search finds the nucleus a full sort finds, on a vocabulary of realistic size. */
  @Test
  void topPOverALargeVocabularyDrawsExactlyFromTheSortedNucleus() {
    java.util.Random r = new java.util.Random(3);
    int n = 20_000;
    float[] logits = new float[n];
    for (int i = 0; i < n; i++) logits[i] = (float) (r.nextGaussian() * 3);
    float t = 0.7f;
    float top = 0.6f;
    // reference: sort by probability, keep the smallest prefix reaching top_p
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) order[i] = i;
    java.util.Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
    double max = logits[order[0]];
    double sum = 0;
    for (float l : logits) sum += Math.exp((l - max) / t);
    java.util.Set<Integer> nucleus = new java.util.HashSet<>();
    double cum = 0;
    for (int j = 0; j < n && cum < top; j++) {
      cum += Math.exp((logits[order[j]] - max) / t) / sum;
      nucleus.add(order[j]);
    }
    Sampler s = new Sampler(cfg(t, top, null, null, null, null, 21L), n, new int[0]);
    java.util.Set<Integer> seen = new java.util.HashSet<>();
    for (int i = 0; i < 4000; i++) seen.add(s.sample(logits.clone()));
    assertThat(nucleus).containsAll(seen);
    assertThat(seen).contains(order[0], order[1]);
  }

  @Test
  void plainTemperatureSamplingFollowsTheSoftmax() {
    float[] logits = {0f, (float) Math.log(3), -50f};
    Sampler s = new Sampler(cfg(1f, null, null, null, null, null, 4L), 3, new int[0]);
    int[] counts = new int[3];
    for (int i = 0; i < 4000; i++) counts[s.sample(logits.clone())]++;
    assertThat(counts[2]).isZero();
    assertThat(counts[1]).isBetween(2800, 3200); // 3 / 4 of the draws
  }
}
