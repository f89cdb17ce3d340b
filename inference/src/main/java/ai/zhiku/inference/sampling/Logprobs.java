package ai.zhiku.inference.sampling;

/**
 * Log probabilities of one step, from the logits a token was drawn from (after penalties, logit
 * bias and the grammar's mask): {@code log softmax(logits / T)} with the request's temperature, or
 * T = 1 for greedy decoding (whose draw is the distribution's top entry). Top-k truncation and
 * top-p are not applied, as OpenAI reports them.
 *
 * @param ids the {@code k} most likely ids, best first (ties by lower id)
 */
public record Logprobs(int chosen, float chosenLogprob, int[] ids, float[] logprobs) {

  public static Logprobs of(float[] logits, int off, int n, float temperature, int chosen, int k) {
    float invT = temperature > 0 ? 1f / temperature : 1f;
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) max = Math.max(max, logits[off + i]);
    double sum = 0;
    for (int i = 0; i < n; i++) {
      float x = logits[off + i];
      if (x != Float.NEGATIVE_INFINITY) sum += Math.exp((x - max) * invT);
    }
    double logZ = Math.log(sum);
    int[] top = topK(logits, off, n, k);
    float[] lp = new float[top.length];
    for (int j = 0; j < top.length; j++) lp[j] = logprob(logits[off + top[j]], max, invT, logZ);
    return new Logprobs(chosen, logprob(logits[off + chosen], max, invT, logZ), top, lp);
  }

  private static float logprob(float logit, float max, float invT, double logZ) {
    if (logit == Float.NEGATIVE_INFINITY) return -9999f; // OpenAI's floor for an impossible token
    return (float) Math.max(-9999.0, (logit - max) * invT - logZ);
  }

  /** The k best ids by a simple insertion into a sorted array (k is at most 20). */
  private static int[] topK(float[] logits, int off, int n, int k) {
    k = Math.min(k, n);
    if (k <= 0) return new int[0];
    int[] ids = new int[k];
    float[] vals = new float[k];
    int size = 0;
    for (int i = 0; i < n; i++) {
      float x = logits[off + i];
      if (size == k && !(x > vals[k - 1])) continue;
      int at = size == k ? k - 1 : size++;
      while (at > 0 && vals[at - 1] < x) {
        vals[at] = vals[at - 1];
        ids[at] = ids[at - 1];
        at--;
      }
      vals[at] = x;
      ids[at] = i;
    }
    return java.util.Arrays.copyOf(ids, size);
  }
}
