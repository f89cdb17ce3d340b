package ai.zhiku.inference.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The kernel on the Vector API: a bfloat16 lane widens to float32 by sign-extending to 32 bits
 * and shifting left by 16, which needs no bfloat16 instructions, so it runs at memory speed on
 * any AVX2 or AVX-512 CPU. Output rows are taken in blocks small enough to stay in L1/L2 while
 * every activation row is multiplied with them: in a batched decode step the weight comes from
 * memory once for all sequences. One to three rows: 4 output rows x 1 activation row tiles straight
 * from bfloat16 (bandwidth-bound). Four rows or more: four weight rows are widened into a small
 * float buffer once, then 4 x 4 tiles run in float32 from cache (compute-bound).
 */
final class VectorBf16Kernel implements Bf16Kernel {
  private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
  private static final VectorSpecies<Integer> I = F.vectorShape().withLanes(int.class);
  private static final VectorSpecies<Short> S = VectorShape.forBitSize(F.vectorBitSize() / 2).withLanes(short.class);
  private static final int L = F.length();
  /** Bytes of weight per output block: it stays cached while all activation rows pass over it. */
  private static final int BLOCK_BYTES = 64 * 1024;
  /** Columns per pass of the batched tiles (a multiple of every vector length). */
  private static final int K_CHUNK = 512;

  @Override
  public void multiply(short[] w, int in, float[] x, int rows, float[] y, int out, int o0, int o1) {
    int bound = F.loopBound(in);
    if (rows < 4) {
      int block = Math.max(4, (BLOCK_BYTES / (2 * in)) & ~3);
      for (int ob = o0; ob < o1; ob += block) {
        int oe = Math.min(o1, ob + block);
        for (int r = 0; r < rows; r++) tile4x1(w, in, bound, x, r, y, out, ob, oe);
      }
      return;
    }
    // batches: widen four weight rows at a time into a float buffer, then multiply every
    // activation row with them in float32 (4 x 4 tiles): the widening is paid once per weight
    float[] buf = WIDENED.get();
    if (buf.length < 4 * in) WIDENED.set(buf = new float[4 * in]);
    int o = o0;
    int full = rows & ~3;
    for (; o + 4 <= o1; o += 4) {
      widenRows(w, o * in, 4 * in, buf);
      // k in chunks, so that the chunk of the four widened rows and of every activation row stay in L1
      for (int k0 = 0; k0 < in; k0 += K_CHUNK) {
        int k1 = Math.min(in, k0 + K_CHUNK);
        for (int r = 0; r < full; r += 4) tile4x4(buf, in, k0, k1, x, r, y, out, o, k0 > 0);
      }
      for (int r = full; r < rows; r++) {
        for (int j = 0; j < 4; j++) y[r * out + o + j] = dot(buf, j * in, x, r * in, in, bound);
      }
    }
    for (; o < o1; o++) {
      widenRows(w, o * in, in, buf);
      for (int r = 0; r < rows; r++) y[r * out + o] = dot(buf, 0, x, r * in, in, bound);
    }
  }

  private static final ThreadLocal<float[]> WIDENED = ThreadLocal.withInitial(() -> new float[0]);

  private static void widenRows(short[] w, int from, int n, float[] dst) {
    int b = F.loopBound(n);
    int i = 0;
    for (; i < b; i += L) widen(w, from + i).intoArray(dst, i);
    for (; i < n; i++) dst[i] = Float.intBitsToFloat(w[from + i] << 16);
  }

  private static float dot(float[] a, int ao, float[] x, int xo, int in, int bound) {
    FloatVector acc = FloatVector.zero(F);
    for (int k = 0; k < bound; k += L) acc = FloatVector.fromArray(F, a, ao + k).fma(FloatVector.fromArray(F, x, xo + k), acc);
    float s = acc.reduceLanes(VectorOperators.ADD);
    for (int k = bound; k < in; k++) s += a[ao + k] * x[xo + k];
    return s;
  }

  /**
   * Widened weight rows o..o+3 (in buf) against activation rows r..r+3 over columns [k0, k1):
   * the sixteen dot products are stored, or added to y when {@code add}.
   */
  private static void tile4x4(float[] buf, int in, int k0, int k1, float[] x, int r, float[] y, int out, int o,
                              boolean add) {
    FloatVector z = FloatVector.zero(F);
    FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
    FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
    int x0 = r * in;
    int x1 = x0 + in;
    int x2 = x1 + in;
    int x3 = x2 + in;
    int bound = k0 + F.loopBound(k1 - k0);
    for (int k = k0; k < bound; k += L) {
      FloatVector w0 = FloatVector.fromArray(F, buf, k);
      FloatVector w1 = FloatVector.fromArray(F, buf, in + k);
      FloatVector w2 = FloatVector.fromArray(F, buf, 2 * in + k);
      FloatVector w3 = FloatVector.fromArray(F, buf, 3 * in + k);
      FloatVector xv = FloatVector.fromArray(F, x, x0 + k);
      a00 = w0.fma(xv, a00);
      a10 = w1.fma(xv, a10);
      a20 = w2.fma(xv, a20);
      a30 = w3.fma(xv, a30);
      xv = FloatVector.fromArray(F, x, x1 + k);
      a01 = w0.fma(xv, a01);
      a11 = w1.fma(xv, a11);
      a21 = w2.fma(xv, a21);
      a31 = w3.fma(xv, a31);
      xv = FloatVector.fromArray(F, x, x2 + k);
      a02 = w0.fma(xv, a02);
      a12 = w1.fma(xv, a12);
      a22 = w2.fma(xv, a22);
      a32 = w3.fma(xv, a32);
      xv = FloatVector.fromArray(F, x, x3 + k);
      a03 = w0.fma(xv, a03);
      a13 = w1.fma(xv, a13);
      a23 = w2.fma(xv, a23);
      a33 = w3.fma(xv, a33);
    }
    int y0 = r * out + o;
    put(y, y0, add, a00.reduceLanes(VectorOperators.ADD) + tailF(buf, 0, x, x0, bound, k1));
    put(y, y0 + out, add, a01.reduceLanes(VectorOperators.ADD) + tailF(buf, 0, x, x1, bound, k1));
    put(y, y0 + 2 * out, add, a02.reduceLanes(VectorOperators.ADD) + tailF(buf, 0, x, x2, bound, k1));
    put(y, y0 + 3 * out, add, a03.reduceLanes(VectorOperators.ADD) + tailF(buf, 0, x, x3, bound, k1));
    put(y, y0 + 1, add, a10.reduceLanes(VectorOperators.ADD) + tailF(buf, in, x, x0, bound, k1));
    put(y, y0 + out + 1, add, a11.reduceLanes(VectorOperators.ADD) + tailF(buf, in, x, x1, bound, k1));
    put(y, y0 + 2 * out + 1, add, a12.reduceLanes(VectorOperators.ADD) + tailF(buf, in, x, x2, bound, k1));
    put(y, y0 + 3 * out + 1, add, a13.reduceLanes(VectorOperators.ADD) + tailF(buf, in, x, x3, bound, k1));
    put(y, y0 + 2, add, a20.reduceLanes(VectorOperators.ADD) + tailF(buf, 2 * in, x, x0, bound, k1));
    put(y, y0 + out + 2, add, a21.reduceLanes(VectorOperators.ADD) + tailF(buf, 2 * in, x, x1, bound, k1));
    put(y, y0 + 2 * out + 2, add, a22.reduceLanes(VectorOperators.ADD) + tailF(buf, 2 * in, x, x2, bound, k1));
    put(y, y0 + 3 * out + 2, add, a23.reduceLanes(VectorOperators.ADD) + tailF(buf, 2 * in, x, x3, bound, k1));
    put(y, y0 + 3, add, a30.reduceLanes(VectorOperators.ADD) + tailF(buf, 3 * in, x, x0, bound, k1));
    put(y, y0 + out + 3, add, a31.reduceLanes(VectorOperators.ADD) + tailF(buf, 3 * in, x, x1, bound, k1));
    put(y, y0 + 2 * out + 3, add, a32.reduceLanes(VectorOperators.ADD) + tailF(buf, 3 * in, x, x2, bound, k1));
    put(y, y0 + 3 * out + 3, add, a33.reduceLanes(VectorOperators.ADD) + tailF(buf, 3 * in, x, x3, bound, k1));
  }

  private static void put(float[] y, int i, boolean add, float v) {
    y[i] = add ? y[i] + v : v;
  }

  /**
   * The scalar tail [from, to) of the dot product of a[ao..] and x[xo..]. (Vectors are never passed
   * to helpers: a call C2 does not inline would box them.)
   */
  private static float tailF(float[] a, int ao, float[] x, int xo, int from, int to) {
    float s = 0f;
    for (int k = from; k < to; k++) s += a[ao + k] * x[xo + k];
    return s;
  }

  private static FloatVector widen(short[] w, int i) {
    return ((IntVector) ShortVector.fromArray(S, w, i).convertShape(VectorOperators.S2I, I, 0))
        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
  }

  private static float tail(short[] w, int wo, float[] x, int xo, int from, int in) {
    float s = 0f;
    for (int k = from; k < in; k++) s += Float.intBitsToFloat(w[wo + k] << 16) * x[xo + k];
    return s;
  }

  /** One activation row against output rows [ob, oe), four at a time. */
  private static void tile4x1(short[] w, int in, int bound, float[] x, int r, float[] y, int out, int ob, int oe) {
    int xo = r * in;
    int yo = r * out;
    int o = ob;
    for (; o + 4 <= oe; o += 4) {
      int w0 = o * in;
      int w1 = w0 + in;
      int w2 = w1 + in;
      int w3 = w2 + in;
      FloatVector a0 = FloatVector.zero(F);
      FloatVector a1 = a0;
      FloatVector a2 = a0;
      FloatVector a3 = a0;
      for (int k = 0; k < bound; k += L) {
        FloatVector xv = FloatVector.fromArray(F, x, xo + k);
        a0 = widen(w, w0 + k).fma(xv, a0);
        a1 = widen(w, w1 + k).fma(xv, a1);
        a2 = widen(w, w2 + k).fma(xv, a2);
        a3 = widen(w, w3 + k).fma(xv, a3);
      }
      y[yo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(w, w0, x, xo, bound, in);
      y[yo + o + 1] = a1.reduceLanes(VectorOperators.ADD) + tail(w, w1, x, xo, bound, in);
      y[yo + o + 2] = a2.reduceLanes(VectorOperators.ADD) + tail(w, w2, x, xo, bound, in);
      y[yo + o + 3] = a3.reduceLanes(VectorOperators.ADD) + tail(w, w3, x, xo, bound, in);
    }
    for (; o < oe; o++) {
      int w0 = o * in;
      FloatVector a0 = FloatVector.zero(F);
      for (int k = 0; k < bound; k += L) a0 = widen(w, w0 + k).fma(FloatVector.fromArray(F, x, xo + k), a0);
      y[yo + o] = a0.reduceLanes(VectorOperators.ADD) + tail(w, w0, x, xo, bound, in);
    }
  }
}
