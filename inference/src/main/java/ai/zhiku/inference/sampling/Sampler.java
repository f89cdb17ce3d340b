package ai.zhiku.inference.sampling;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token of one sequence from its logits. Order, as Hugging Face's processors and
 * OpenAI's penalties apply: repetition penalty (over prompt and output tokens: positive logits
 * divided, negative multiplied), presence and frequency penalties (output tokens only: minus
 * {@code presence} if seen, minus {@code frequency × count}), then greedy argmax, or temperature,
 * top-k, top-p (the smallest set of most likely tokens whose probability reaches top_p) and a
 * draw from the seeded generator. The generator belongs to the sequence, so a seed reproduces it.
 */
public final class Sampler {
  private final SamplingConfig cfg;
  private final SplittableRandom random;
  private final int[] outputCounts;
  private final boolean[] seen; // prompt or output, for the repetition penalty

  public Sampler(SamplingConfig cfg, int vocabSize, int[] promptIds) {
    this.cfg = cfg;
    this.random = new SplittableRandom(cfg.seed());
    this.outputCounts = new int[vocabSize];
    this.seen = new boolean[vocabSize];
    for (int id : promptIds) if (id >= 0 && id < vocabSize) seen[id] = true;
  }

  /** Records a generated token for the penalties. */
  public void accept(int id) {
    if (id >= 0 && id < outputCounts.length) {
      outputCounts[id]++;
      seen[id] = true;
    }
  }

  /** The next token; {@code logits} is modified. */
  public int sample(float[] logits) {
    int n = Math.min(logits.length, outputCounts.length);
    if (cfg.repetitionPenalty() != 1f) {
      float r = cfg.repetitionPenalty();
      for (int i = 0; i < n; i++) {
        if (seen[i]) logits[i] = logits[i] < 0 ? logits[i] * r : logits[i] / r;
      }
    }
    if (cfg.presencePenalty() != 0f || cfg.frequencyPenalty() != 0f) {
      for (int i = 0; i < n; i++) {
        int c = outputCounts[i];
        if (c > 0) logits[i] -= cfg.presencePenalty() + cfg.frequencyPenalty() * c;
      }
    }
    if (cfg.greedy()) return argmax(logits);
    return draw(logits);
  }

  static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
    return best;
  }

  /**
   * Temperature, top-k and top-p sampling. Tokens whose scaled logit is more than 30 below the
   * best (probability under e^-30 of the top token's) are left out before sorting, which keeps a
   * 92k vocabulary cheap and changes the kept mass by less than 1e-8.
   */
  private int draw(float[] logits) {
    double invT = 1.0 / cfg.temperature();
    float max = Float.NEGATIVE_INFINITY;
    for (float l : logits) max = Math.max(max, l);
    long[] cand = new long[logits.length];
    int m = 0;
    for (int i = 0; i < logits.length; i++) {
      if ((logits[i] - max) * invT > -30) {
        int bits = Float.floatToIntBits(logits[i]);
        int ascending = bits ^ ((bits >> 31) & 0x7fffffff);
        cand[m++] = ((long) ~ascending << 32) | i; // sorts by logit descending, then id
      }
    }
    if (cfg.topK() > 0 && cfg.topK() < m) {
      m = selectSmallest(cand, m, cfg.topK());
    } else if (cfg.topP() < 1f) {
      Arrays.sort(cand, 0, m);
    }
    double[] p = new double[m];
    double sum = 0;
    for (int j = 0; j < m; j++) {
      p[j] = Math.exp((logits[(int) cand[j]] - max) * invT);
      sum += p[j];
    }
    if (cfg.topP() < 1f) {
      double cum = 0;
      for (int j = 0; j < m; j++) {
        cum += p[j] / sum;
        if (cum >= cfg.topP()) {
          m = j + 1;
          break;
        }
      }
      sum = 0;
      for (int j = 0; j < m; j++) sum += p[j];
    }
    double u = random.nextDouble() * sum;
    double acc = 0;
    for (int j = 0; j < m; j++) {
      acc += p[j];
      if (u < acc) return (int) cand[j];
    }
    return (int) cand[m - 1];
  }

  /** Moves the k smallest of cand[0, m) to the front, sorted; returns k. Heap selection, O(m log k). */
  static int selectSmallest(long[] cand, int m, int k) {
    long[] heap = new long[k]; // max-heap of the k smallest so far
    int size = 0;
    for (int i = 0; i < m; i++) {
      long v = cand[i];
      if (size < k) {
        int c = size++;
        heap[c] = v;
        while (c > 0 && heap[(c - 1) / 2] < heap[c]) {
          long t = heap[c]; heap[c] = heap[(c - 1) / 2]; heap[(c - 1) / 2] = t;
          c = (c - 1) / 2;
        }
      } else if (v < heap[0]) {
        heap[0] = v;
        int c = 0;
        while (true) {
          int l = 2 * c + 1, r = l + 1, big = c;
          if (l < k && heap[l] > heap[big]) big = l;
          if (r < k && heap[r] > heap[big]) big = r;
          if (big == c) break;
          long t = heap[c]; heap[c] = heap[big]; heap[big] = t;
          c = big;
        }
      }
    }
    Arrays.sort(heap, 0, size);
    System.arraycopy(heap, 0, cand, 0, size);
    return size;
  }
}
