package ai.zhiku.inference.sampling;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** {@link Exponentials} on the Vector API; loaded only when the JVM has the incubator module. */
final class VectorExponentials extends Exponentials {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

  @Override
  float max(float[] x, int off, int n) {
    FloatVector m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
    int i = 0;
    for (int end = S.loopBound(n); i < end; i += S.length()) m = m.max(FloatVector.fromArray(S, x, off + i));
    float r = m.reduceLanes(VectorOperators.MAX);
    for (; i < n; i++) r = Math.max(r, x[off + i]);
    return r;
  }

  @Override
  double exp(float[] x, int off, int n, float max, float invT, float[] out, double[] blockSums) {
    double sum = 0;
    for (int b = 0; b * BLOCK < n; b++) {
      int from = b * BLOCK;
      int to = Math.min(n, from + BLOCK);
      FloatVector acc = FloatVector.zero(S);
      int i = from;
      for (int end = from + S.loopBound(to - from); i < end; i += S.length()) {
        FloatVector e = FloatVector.fromArray(S, x, off + i).sub(max).mul(invT).lanewise(VectorOperators.EXP);
        e.intoArray(out, i);
        acc = acc.add(e);
      }
      double s = acc.reduceLanes(VectorOperators.ADD);
      for (; i < to; i++) s += out[i] = (float) Math.exp((x[off + i] - max) * invT);
      blockSums[b] = s;
      sum += s;
    }
    return sum;
  }
}
