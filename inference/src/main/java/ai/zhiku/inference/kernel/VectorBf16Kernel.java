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
 * any AVX2 or AVX-512 CPU. In a batched decode step each weight row comes from memory once for
 * all sequences. One or two rows (bandwidth-bound): each weight row is read front to back as one
 * stream, straight from bfloat16. Three rows or more (compute-bound): a chunk of four weight rows
 * is widened into a float buffer in L1 once, then 4 x 4 tiles run in float32.
 */
final class VectorBf16Kernel implements Bf16Kernel {
  private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
  private static final VectorSpecies<Integer> I = F.vectorShape().withLanes(int.class);
  private static final VectorSpecies<Short> S = VectorShape.forBitSize(F.vectorBitSize() / 2).withLanes(short.class);
  private static final int L = F.length();
  /**
   * From this many columns on, the activation row no longer stays in L1 beside the weight stream,
   * and two weight rows share each load of it. Measured one-row products: [2048, 8192] 24 -> 29 GB/s,
   * [4096, 13696] 24 -> 28 GB/s with row pairs; [4096, 4096] 35 -> 25 GB/s, so not below 8192.
   */
  private static final int WIDE_ROW = 8192;
  /**
   * From this many rows on, weight chunks are widened once and multiplied in float32 tiles.
   * Measured per [16384, 2048] product: 2 rows 2.2 ms by streaming each row twice, 3.1 ms tiled;
   * 3 rows 4.7 ms streaming against 3.4 ms tiled.
   */
  private static final int SMALL_BATCH = 3;
  /**
   * Columns per pass of the batched tiles (a multiple of every vector length). Measured for a
   * [16384, 2048] weight and 16 rows: 128 columns 11.0 ms, 256 8.9, 512 8.5, 1024 7.8, 2048 8.4.
   */
  private static final int K_CHUNK = 1024;

  @Override
  public void multiply(short[] w, int in, float[] x, int rows, float[] y, int out, int o0, int o1) {
    int bound = F.loopBound(in);
    if (rows == 1) {
      int o = o0;
      if (in >= WIDE_ROW) {
        for (; o + 2 <= o1; o += 2) rowDot2(w, o * in, x, in, y, o);
      }
      for (; o < o1; o++) y[o] = rowDot(w, o * in, x, in);
      return;
    }
    if (rows < SMALL_BATCH) {
      // two sequences: each weight row is streamed once, the second pass reads it from L1
      for (int o = o0; o < o1; o++) {
        for (int r = 0; r < rows; r++) y[r * out + o] = rowDotAt(w, o * in, x, r * in, in);
      }
      return;
    }
    // batches: widen a chunk of four weight rows into a float buffer that stays in L1, then
    // multiply every activation row's chunk with it in float32 (4 x 4 tiles): the widening is
    // paid once per weight, and the tiles read only L1
    float[] buf = WIDENED.get();
    int full = rows & ~3;
    int o = o0;
    for (; o + 4 <= o1; o += 4) {
      for (int k0 = 0; k0 < in; k0 += K_CHUNK) {
        int n = Math.min(K_CHUNK, in - k0);
        for (int j = 0; j < 4; j++) widenRows(w, (o + j) * in + k0, n, buf, j * K_CHUNK);
        boolean add = k0 > 0;
        for (int r = 0; r < full; r += 4) tile4x4(buf, n, x, in, k0, r, y, out, o, add);
        for (int r = full; r < rows; r++) {
          for (int j = 0; j < 4; j++) put(y, r * out + o + j, add, dot(buf, j * K_CHUNK, x, r * in + k0, n));
        }
      }
    }
    if (o < o1) {
      for (; o < o1; o++) {
        for (int r = 0; r < rows; r++) y[r * out + o] = rowDotAt(w, o * in, x, r * in, in);
      }
    }
  }

  private static final ThreadLocal<float[]> WIDENED = ThreadLocal.withInitial(() -> new float[4 * K_CHUNK]);

  private static void widenRows(short[] w, int from, int n, float[] dst, int at) {
    int b = F.loopBound(n);
    int i = 0;
    for (; i < b; i += L) widen(w, from + i).intoArray(dst, at + i);
    for (; i < n; i++) dst[at + i] = Float.intBitsToFloat(w[from + i] << 16);
  }

  private static float dot(float[] a, int ao, float[] x, int xo, int n) {
    int bound = F.loopBound(n);
    FloatVector acc = FloatVector.zero(F);
    for (int k = 0; k < bound; k += L) acc = FloatVector.fromArray(F, a, ao + k).fma(FloatVector.fromArray(F, x, xo + k), acc);
    return acc.reduceLanes(VectorOperators.ADD) + tailF(a, ao, x, xo, bound, n);
  }

  /**
   * A chunk of widened weight rows o..o+3 (in buf, K_CHUNK apart, n columns) against the same
   * chunk (columns k0..k0+n) of activation rows r..r+3: the sixteen dot products are stored, or
   * added to y when {@code add}.
   */
  private static void tile4x4(float[] buf, int n, float[] x, int in, int k0, int r, float[] y, int out, int o,
                              boolean add) {
    FloatVector z = FloatVector.zero(F);
    FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
    FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
    int x0 = r * in + k0;
    int x1 = x0 + in;
    int x2 = x1 + in;
    int x3 = x2 + in;
    int b1 = K_CHUNK;
    int b2 = 2 * K_CHUNK;
    int b3 = 3 * K_CHUNK;
    int bound = F.loopBound(n);
    for (int k = 0; k < bound; k += L) {
      FloatVector w0 = FloatVector.fromArray(F, buf, k);
      FloatVector w1 = FloatVector.fromArray(F, buf, b1 + k);
      FloatVector w2 = FloatVector.fromArray(F, buf, b2 + k);
      FloatVector w3 = FloatVector.fromArray(F, buf, b3 + k);
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
    put(y, y0, add, a00.reduceLanes(VectorOperators.ADD) + tailF(buf, 0, x, x0, bound, n));
    put(y, y0 + out, add, a01.reduceLanes(VectorOperators.ADD) + tailF(buf, 0, x, x1, bound, n));
    put(y, y0 + 2 * out, add, a02.reduceLanes(VectorOperators.ADD) + tailF(buf, 0, x, x2, bound, n));
    put(y, y0 + 3 * out, add, a03.reduceLanes(VectorOperators.ADD) + tailF(buf, 0, x, x3, bound, n));
    put(y, y0 + 1, add, a10.reduceLanes(VectorOperators.ADD) + tailF(buf, b1, x, x0, bound, n));
    put(y, y0 + out + 1, add, a11.reduceLanes(VectorOperators.ADD) + tailF(buf, b1, x, x1, bound, n));
    put(y, y0 + 2 * out + 1, add, a12.reduceLanes(VectorOperators.ADD) + tailF(buf, b1, x, x2, bound, n));
    put(y, y0 + 3 * out + 1, add, a13.reduceLanes(VectorOperators.ADD) + tailF(buf, b1, x, x3, bound, n));
    put(y, y0 + 2, add, a20.reduceLanes(VectorOperators.ADD) + tailF(buf, b2, x, x0, bound, n));
    put(y, y0 + out + 2, add, a21.reduceLanes(VectorOperators.ADD) + tailF(buf, b2, x, x1, bound, n));
    put(y, y0 + 2 * out + 2, add, a22.reduceLanes(VectorOperators.ADD) + tailF(buf, b2, x, x2, bound, n));
    put(y, y0 + 3 * out + 2, add, a23.reduceLanes(VectorOperators.ADD) + tailF(buf, b2, x, x3, bound, n));
    put(y, y0 + 3, add, a30.reduceLanes(VectorOperators.ADD) + tailF(buf, b3, x, x0, bound, n));
    put(y, y0 + out + 3, add, a31.reduceLanes(VectorOperators.ADD) + tailF(buf, b3, x, x1, bound, n));
    put(y, y0 + 2 * out + 3, add, a32.reduceLanes(VectorOperators.ADD) + tailF(buf, b3, x, x2, bound, n));
    put(y, y0 + 3 * out + 3, add, a33.reduceLanes(VectorOperators.ADD) + tailF(buf, b3, x, x3, bound, n));
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

  /**
   * One weight row against one activation row, the row read front to back as a single stream
   * (four accumulators for latency): hardware prefetchers follow one long stream better than
   * four interleaved 4 KiB ones.
   */
  private static float rowDot(short[] w, int wo, float[] x, int in) {
    int bound4 = in - in % (4 * L);
    FloatVector a0 = FloatVector.zero(F);
    FloatVector a1 = a0;
    FloatVector a2 = a0;
    FloatVector a3 = a0;
    int k = 0;
    for (; k < bound4; k += 4 * L) {
      a0 = widen(w, wo + k).fma(FloatVector.fromArray(F, x, k), a0);
      a1 = widen(w, wo + k + L).fma(FloatVector.fromArray(F, x, k + L), a1);
      a2 = widen(w, wo + k + 2 * L).fma(FloatVector.fromArray(F, x, k + 2 * L), a2);
      a3 = widen(w, wo + k + 3 * L).fma(FloatVector.fromArray(F, x, k + 3 * L), a3);
    }
    int bound = F.loopBound(in);
    for (; k < bound; k += L) a0 = widen(w, wo + k).fma(FloatVector.fromArray(F, x, k), a0);
    return a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD) + tail(w, wo, x, 0, bound, in);
  }

  /** Rows o and o+1 (adjacent, so still one stream) against one wide activation row, each x load used twice. */
  private static void rowDot2(short[] w, int wo, float[] x, int in, float[] y, int o) {
    int w1 = wo + in;
    int bound2 = in - in % (2 * L);
    FloatVector a0 = FloatVector.zero(F);
    FloatVector a1 = a0;
    FloatVector b0 = a0;
    FloatVector b1 = a0;
    int k = 0;
    for (; k < bound2; k += 2 * L) {
      FloatVector x0 = FloatVector.fromArray(F, x, k);
      FloatVector x1 = FloatVector.fromArray(F, x, k + L);
      a0 = widen(w, wo + k).fma(x0, a0);
      a1 = widen(w, wo + k + L).fma(x1, a1);
      b0 = widen(w, w1 + k).fma(x0, b0);
      b1 = widen(w, w1 + k + L).fma(x1, b1);
    }
    int bound = F.loopBound(in);
    for (; k < bound; k += L) {
      FloatVector xv = FloatVector.fromArray(F, x, k);
      a0 = widen(w, wo + k).fma(xv, a0);
      b0 = widen(w, w1 + k).fma(xv, b0);
    }
    y[o] = a0.add(a1).reduceLanes(VectorOperators.ADD) + tail(w, wo, x, 0, bound, in);
    y[o + 1] = b0.add(b1).reduceLanes(VectorOperators.ADD) + tail(w, w1, x, 0, bound, in);
  }

  /**
   * Weight row at wo against the activation row at xo, one accumulator. Kept beside
   * {@link #rowDot}: with two rows (the second pass reads the weight row from L1) its four
   * accumulators made a [16384, 2048] product slower, 3.1-3.4 ms against 2.2 ms.
   */
  private static float rowDotAt(short[] w, int wo, float[] x, int xo, int in) {
    int bound = F.loopBound(in);
    FloatVector a0 = FloatVector.zero(F);
    for (int k = 0; k < bound; k += L) a0 = widen(w, wo + k).fma(FloatVector.fromArray(F, x, xo + k), a0);
    return a0.reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo, bound, in);
  }

  private static float tail(short[] w, int wo, float[] x, int xo, int from, int in) {
    float s = 0f;
    for (int k = from; k < in; k++) s += Float.intBitsToFloat(w[wo + k] << 16) * x[xo + k];
    return s;
  }
}
