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
 * No step sorts or copies the vocabulary: greedy is one pass, top-k a heap selection, top-p a
 * threshold search that sorts only the few tokens above it.
 */
public final class Sampler {
  private final SamplingConfig cfg;
  private final SplittableRandom random;
  private final int[] outputCounts;
  private final boolean[] seen; // prompt or output, for the repetition penalty
  private int[] biasIds = new int[0];
  private float[] biasValues = new float[0];
  private ai.zhiku.inference.grammar.Constraint constraint;

  public Sampler(SamplingConfig cfg, int vocabSize, int[] promptIds) {
    this.cfg = cfg;
    this.random = new SplittableRandom(cfg.seed());
    this.outputCounts = new int[vocabSize];
    this.seen = new boolean[vocabSize];
    for (int id : promptIds) if (id >= 0 && id < vocabSize) seen[id] = true;
  }

  /** OpenAI's logit_bias: added to those ids' logits after the penalties. */
  public Sampler bias(java.util.Map<Integer, Float> bias) {
    biasIds = new int[bias.size()];
    biasValues = new float[bias.size()];
    int i = 0;
    for (java.util.Map.Entry<Integer, Float> e : bias.entrySet()) {
      biasIds[i] = e.getKey();
      biasValues[i++] = e.getValue();
    }
    return this;
  }

  /** Holds every draw to {@code c}'s grammar (applied last, after penalties and bias); null: none. */
  public Sampler constrain(ai.zhiku.inference.grammar.Constraint c) {
    this.constraint = c;
    return this;
  }

  public ai.zhiku.inference.grammar.Constraint constraint() { return constraint; }

  /** Records a generated token for the penalties (and moves the grammar past it). */
  public void accept(int id) {
    if (constraint != null) constraint.accept(id);
    if (id >= 0 && id < outputCounts.length) {
      outputCounts[id]++;
      seen[id] = true;
    }
  }

  /** The next token; {@code logits} is modified. */
  public int sample(float[] logits) {
    return sample(logits, 0, logits.length);
  }

  /**
   * The next token from the row logits[off, off + n); the row is modified: afterwards it holds the
   * logits the token was drawn from (penalties, bias and grammar applied), which {@link Logprobs} reads.
   */
  public int sample(float[] logits, int off, int n) {
    int v = Math.min(n, outputCounts.length);
    if (cfg.repetitionPenalty() != 1f) {
      float r = cfg.repetitionPenalty();
      for (int i = 0; i < v; i++) {
        if (seen[i]) logits[off + i] = logits[off + i] < 0 ? logits[off + i] * r : logits[off + i] / r;
      }
    }
    if (cfg.presencePenalty() != 0f || cfg.frequencyPenalty() != 0f) {
      for (int i = 0; i < v; i++) {
        int c = outputCounts[i];
        if (c > 0) logits[off + i] -= cfg.presencePenalty() + cfg.frequencyPenalty() * c;
      }
    }
    for (int i = 0; i < biasIds.length; i++) if (biasIds[i] < n) logits[off + biasIds[i]] += biasValues[i];
    if (constraint != null) constraint.apply(logits, off, n);
    if (cfg.greedy()) return argmax(logits, off, n);
    if (cfg.topK() > 0 && cfg.topK() < n) return drawTopK(logits, off, n);
    return draw(logits, off, n);
  }

  static int argmax(float[] v) {
    return argmax(v, 0, v.length);
  }

  static int argmax(float[] v, int off, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (v[off + i] > v[off + best]) best = i;
    return best;
  }

  /** A logit as a long that sorts by logit descending, then by id. */
  private static long key(float logit, int id) {
    int bits = Float.floatToIntBits(logit);
    int ascending = bits ^ ((bits >> 31) & 0x7fffffff);
    return ((long) ~ascending << 32) | id;
  }

  /** Per-thread scratch of the vocabulary's size: the engine thread samples every sequence in turn. */
  private static final ThreadLocal<float[]> PROBS = ThreadLocal.withInitial(() -> new float[0]);
  private static final ThreadLocal<double[]> BLOCK_SUMS = ThreadLocal.withInitial(() -> new double[0]);

  /**
   * Temperature and top-p sampling over the whole vocabulary: one vectorised pass for the
   * exponentials and their sum, then either a draw by one cumulative pass (top_p 1), or the
   * nucleus found without sorting the vocabulary: a threshold is halved towards the smallest set
   * of most likely tokens whose mass reaches top_p until few tokens are left above it, and only
   * those are sorted (the nucleus is a prefix of them: they are all tokens above a probability).
   */
  private int draw(float[] logits, int off, int n) {
    float invT = 1f / cfg.temperature();
    float max = Exponentials.INSTANCE.max(logits, off, n);
    float[] p = PROBS.get();
    if (p.length < n) PROBS.set(p = new float[n]);
    double[] blocks = BLOCK_SUMS.get();
    int nb = (n + Exponentials.BLOCK - 1) / Exponentials.BLOCK;
    if (blocks.length < nb) BLOCK_SUMS.set(blocks = new double[nb]);
    double sum = Exponentials.INSTANCE.exp(logits, off, n, max, invT, p, blocks);
    if (cfg.topP() >= 1f) return pick(p, n, blocks, random.nextDouble() * sum);
    double target = cfg.topP() * sum;
    float lo = 0f; // the tokens with p >= lo always hold at least the target mass
    float hi = 1.0000001f; // the most likely token has p = 1
    int count = n;
    for (int it = 0; it < 16 && count > 64; it++) {
      float mid = (lo + hi) / 2;
      double mass = 0;
      int c = 0;
      for (int i = 0; i < n; i++) {
        if (p[i] >= mid) {
          mass += p[i];
          c++;
        }
      }
      if (mass >= target) {
        lo = mid;
        count = c;
      } else {
        hi = mid;
      }
    }
    long[] cand = new long[count];
    int m = 0;
    for (int i = 0; i < n && m < count; i++) if (p[i] >= lo) cand[m++] = key(p[i], i);
    Arrays.sort(cand, 0, m);
    double cum = 0;
    int kept = 0;
    while (kept < m && cum < target) cum += p[(int) cand[kept++]];
    double u = random.nextDouble() * cum;
    double acc = 0;
    for (int j = 0; j < kept; j++) {
      acc += p[(int) cand[j]];
      if (u < acc) return (int) cand[j];
    }
    return (int) cand[kept - 1];
  }

  /** The token where the cumulative sum of p first passes u: the block by its sum, then the token within it. */
  private static int pick(float[] p, int n, double[] blockSums, double u) {
    double acc = 0;
    int b = 0;
    int nb = (n + Exponentials.BLOCK - 1) / Exponentials.BLOCK;
    while (b < nb - 1 && acc + blockSums[b] <= u) acc += blockSums[b++];
    int end = Math.min(n, (b + 1) * Exponentials.BLOCK);
    for (int i = b * Exponentials.BLOCK; i < end; i++) {
      acc += p[i];
      if (u < acc) return i;
    }
    for (int i = end - 1; i > 0; i--) if (p[i] > 0) return i; // rounding left u just past the last sum
    return 0;
  }

  /** Top-k (then top-p among those k): the k best by heap selection over the row, no full-vocabulary array. */
  private int drawTopK(float[] logits, int off, int n) {
    int k = cfg.topK();
    long[] heap = new long[k]; // max-heap of the k smallest keys (best logits) so far
    int size = 0;
    for (int i = 0; i < n; i++) {
      long key = key(logits[off + i], i);
      if (size < k) {
        heap[size] = key;
        siftUp(heap, size++);
      } else if (key < heap[0]) {
        heap[0] = key;
        siftDown(heap, k);
      }
    }
    Arrays.sort(heap, 0, size);
    double invT = 1.0 / cfg.temperature();
    float max = logits[off + (int) heap[0]];
    double[] w = new double[size];
    double sum = 0;
    for (int j = 0; j < size; j++) sum += w[j] = Math.exp((logits[off + (int) heap[j]] - max) * invT);
    int m = size;
    if (cfg.topP() < 1f) {
      double cum = 0;
      for (int j = 0; j < size; j++) {
        cum += w[j] / sum;
        if (cum >= cfg.topP()) {
          m = j + 1;
          break;
        }
      }
      sum = 0;
      for (int j = 0; j < m; j++) sum += w[j];
    }
    double u = random.nextDouble() * sum;
    double acc = 0;
    for (int j = 0; j < m; j++) {
      acc += w[j];
      if (u < acc) return (int) heap[j];
    }
    return (int) heap[m - 1];
  }

  private static void siftUp(long[] heap, int c) {
    while (c > 0 && heap[(c - 1) / 2] < heap[c]) {
      long t = heap[c]; heap[c] = heap[(c - 1) / 2]; heap[(c - 1) / 2] = t;
      c = (c - 1) / 2;
    }
  }

  private static void siftDown(long[] heap, int k) {
    int c = 0;
    while (true) {
      int l = 2 * c + 1, r = l + 1, big = c;
      if (l < k && heap[l] > heap[big]) big = l;
      if (r < k && heap[r] > heap[big]) big = r;
      if (big == c) return;
      long t = heap[c]; heap[c] = heap[big]; heap[big] = t;
      c = big;
    }
  }

  /** Moves the k smallest of cand[0, m) to the front, sorted; returns k. Heap selection, O(m log k). */
  static int selectSmallest(long[] cand, int m, int k) {
    long[] heap = new long[k];
    int size = 0;
    for (int i = 0; i < m; i++) {
      if (size < k) {
        heap[size] = cand[i];
        siftUp(heap, size++);
      } else if (cand[i] < heap[0]) {
        heap[0] = cand[i];
        siftDown(heap, k);
      }
    }
    Arrays.sort(heap, 0, size);
    System.arraycopy(heap, 0, cand, 0, size);
    return size;
  }
}
