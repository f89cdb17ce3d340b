/*
 * bfloat16 products for CPUs with AVX512-BF16 (Zen 4/5, Sapphire Rapids and later), called from
 * ai.zhiku.inference.kernel.NativeBf16Kernel. The Vector API has no bfloat16 dot product; this
 * instruction (vdpbf16ps) multiplies 32 bfloat16 pairs and accumulates them into 16 float32 lanes
 * in one step, where widening the weight to float32 first costs three instructions per 16 lanes.
 *
 *   y[r * out + o] = sum_k w[o * in + k] * x[r * in + k]     for r < rows, o0 <= o < o1
 *
 * w and x are bfloat16 bit patterns (x rounded by the caller), y float32, sums in float32.
 * Nothing here runs unless Java has checked the CPU flag: the file is compiled for AVX-512.
 *
 * Built a second time with ZHIKU_NO_BF16 for CPUs with AVX-512 but without AVX512-BF16 (Ice Lake,
 * Cascade Lake, and virtual machines that hide the flag): then only the attention over the paged
 * cache and SwiGLU are in it, which need AVX512F alone.
 */
#include <immintrin.h>
#include <jni.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

typedef const uint16_t *bf16p;

#ifndef ZHIKU_NO_BF16
/* The last in % 32 lanes of a row are read with a mask (zeros beyond the row). */
static inline __m512bh load(bf16p p, int k, int in) {
  int left = in - k;
  if (left >= 32) return (__m512bh)_mm512_loadu_si512(p + k);
  return (__m512bh)_mm512_maskz_loadu_epi16((__mmask32)((1ull << left) - 1), p + k);
}

#endif

/* The first min(left, 16) of 16 float lanes: a row's last, partial vector. */
static inline __mmask16 lanes(int left) {
  return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

#ifndef ZHIKU_NO_BF16
/* One activation row against outputs [o0, o1): each weight row streamed once, two accumulators. */
static void one_row(bf16p w, int in, bf16p x, float *y, int o0, int o1) {
  for (int o = o0; o < o1; o++) {
    bf16p r = w + (int64_t)o * in;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int k = 0;
    for (; k + 64 <= in; k += 64) {
      a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(r + k), (__m512bh)_mm512_loadu_si512(x + k));
      a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(r + k + 32), (__m512bh)_mm512_loadu_si512(x + k + 32));
    }
    for (; k < in; k += 32) a0 = _mm512_dpbf16_ps(a0, load(r, k, in), load(x, k, in));
    y[o] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  }
}

/*
 * A tile of NO outputs x NR activation rows: NO weight rows and NR activation rows are loaded once
 * per 32 columns and meet in NO * NR accumulators (at most 16 of the 32 registers). Alongside, npf
 * weight rows of a later tile (pf, pf + pstride, ...) are fetched into L2 (see tiles()).
 */
#define TILE(NO, NR)                                                                               \
  static inline __attribute__((always_inline)) void tile_##NO##x##NR(                             \
      bf16p w, int in, bf16p x, float *y, int out, int o, int r, bf16p pf, int npf, int64_t pstride) { \
    __m512 acc[NO][NR];                                                                            \
    for (int i = 0; i < NO; i++)                                                                   \
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();                                \
    bf16p wr = w + (int64_t)o * in;                                                                \
    bf16p xr = x + (int64_t)r * in;                                                                \
    for (int k = 0; k < in; k += 32) {                                                             \
      for (int p = 0; p < npf; p++) _mm_prefetch((const char *)(pf + p * pstride + k), _MM_HINT_T1); \
      __m512bh wv[NO];                                                                             \
      for (int i = 0; i < NO; i++) wv[i] = load(wr + (int64_t)i * in, k, in);                      \
      for (int j = 0; j < NR; j++) {                                                               \
        __m512bh xv = load(xr + (int64_t)j * in, k, in);                                           \
        for (int i = 0; i < NO; i++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], wv[i], xv);           \
      }                                                                                            \
    }                                                                                              \
    for (int i = 0; i < NO; i++)                                                                   \
      for (int j = 0; j < NR; j++) y[(int64_t)(r + j) * out + o + i] = _mm512_reduce_add_ps(acc[i][j]); \
  }

TILE(4, 4)
TILE(4, 3)
TILE(4, 2)
TILE(4, 1)
TILE(1, 4)
TILE(1, 3)
TILE(1, 2)
TILE(1, 1)

/*
 * Weights come from memory in the first row block of each group of four outputs and from the
 * caches after that; the hardware prefetchers stop at each 4 KiB weight row, so the tiles also
 * fetch the rows of the group PREFETCH_GROUPS ahead into L2, one of its four rows per row block
 * (all four when there is a single block). Measured on the model's products with 16 rows,
 * 2 threads: 267 -> 306 GFLOPS.
 */
#define PREFETCH_GROUPS 4

static void tiles(bf16p w, int in, bf16p x, int r0, int r1, float *y, int out, int o0, int o1) {
  int blocks = (r1 - r0 + 3) / 4;
  int o = o0;
  for (; o + 4 <= o1; o += 4) {
    int ahead = o + 4 * PREFETCH_GROUPS;
    int r = r0;
    for (int b = 0; r < r1; r += 4, b++) {
      /* block b fetches rows b, b + blocks, ... of the group ahead */
      int npf = ahead + 4 <= o1 && b < 4 ? (4 - b + blocks - 1) / blocks : 0;
      bf16p pf = w + (int64_t)(npf > 0 ? ahead + b : o) * in;
      int64_t stride = (int64_t)blocks * in;
      switch (r1 - r < 4 ? r1 - r : 4) {
        case 4: tile_4x4(w, in, x, y, out, o, r, pf, npf, stride); break;
        case 3: tile_4x3(w, in, x, y, out, o, r, pf, npf, stride); break;
        case 2: tile_4x2(w, in, x, y, out, o, r, pf, npf, stride); break;
        case 1: tile_4x1(w, in, x, y, out, o, r, pf, npf, stride); break;
      }
    }
  }
  for (; o < o1; o++) {
    int r = r0;
    for (; r + 4 <= r1; r += 4) tile_1x4(w, in, x, y, out, o, r, w, 0, 0);
    switch (r1 - r) {
      case 3: tile_1x3(w, in, x, y, out, o, r, w, 0, 0); break;
      case 2: tile_1x2(w, in, x, y, out, o, r, w, 0, 0); break;
      case 1: tile_1x1(w, in, x, y, out, o, r, w, 0, 0); break;
    }
  }
}

/*
 * Many rows (prefill) run in blocks of rows whose activations stay in the 1-2 MiB L2 (256 KiB of
 * them), so the tiles re-read activations from L2 and each weight slice from memory once per block.
 */
static void multiply(bf16p w, int in, bf16p x, int rows, float *y, int out, int o0, int o1) {
  if (rows == 1) {
    one_row(w, in, x, y, o0, o1);
    return;
  }
  int block = (int)((256 * 1024 / 2) / in) & ~3;
  if (block < 4) block = 4;
  for (int r = 0; r < rows; r += block) tiles(w, in, x, r, r + block < rows ? r + block : rows, y, out, o0, o1);
}

JNIEXPORT void JNICALL Java_ai_zhiku_inference_kernel_NativeBf16Kernel_multiply(
    JNIEnv *env, jclass cls, jshortArray w, jint in, jshortArray x, jint rows, jfloatArray y, jint out, jint o0,
    jint o1) {
  (void)cls;
  uint16_t *wp = (*env)->GetPrimitiveArrayCritical(env, w, NULL);
  uint16_t *xp = (*env)->GetPrimitiveArrayCritical(env, x, NULL);
  float *yp = (*env)->GetPrimitiveArrayCritical(env, y, NULL);
  if (wp != NULL && xp != NULL && yp != NULL) multiply(wp, in, xp, rows, yp, out, o0, o1);
  /* mode 0 on y writes back a copy if the VM made one; the inputs are never changed (JNI_ABORT) */
  if (yp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, y, yp, 0);
  if (xp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, x, xp, JNI_ABORT);
  if (wp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, w, wp, JNI_ABORT);
}

/*
 * x rounded to bfloat16 (to nearest, ties to even, as torch's .to(torch.bfloat16)), n values.
 * vcvtneps2bf16 also flushes denormal inputs to zero, as vdpbf16ps would read them anyway.
 */
JNIEXPORT void JNICALL Java_ai_zhiku_inference_kernel_NativeBf16Kernel_round(
    JNIEnv *env, jclass cls, jfloatArray x, jshortArray out, jint n) {
  (void)cls;
  float *xp = (*env)->GetPrimitiveArrayCritical(env, x, NULL);
  uint16_t *op = (*env)->GetPrimitiveArrayCritical(env, out, NULL);
  if (xp != NULL && op != NULL) {
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(op + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(xp + i)));
    if (i < n) {
      __mmask16 m = lanes(n - i);
      __m256bh b = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, xp + i));
      _mm256_mask_storeu_epi16(op + i, m, (__m256i)b);
    }
  }
  if (op != NULL) (*env)->ReleasePrimitiveArrayCritical(env, out, op, 0);
  if (xp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, x, xp, JNI_ABORT);
}

#endif /* ZHIKU_NO_BF16 */

/*
 * e^x for 16 lanes: x = n ln2 + r with |r| <= ln2 / 2, e^r by its Taylor series to r^7 (the next
 * term is below 5e-9 relative, under float32's half ulp), times 2^n. Within 1-2 ulp of expf;
 * below -87 it flushes to 0 and above 88 it gives infinity, as expf does.
 */
static inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(89.0f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

/* s[0..n) = softmax(s[0..n)), 16 lanes at a time */
static inline void softmax(float *s, int n) {
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int j = 0; j < n; j += 16) {
    __mmask16 m = lanes(n - j);
    vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_maskz_loadu_ps(m, s + j));
  }
  __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 vsum = _mm512_setzero_ps();
  for (int j = 0; j < n; j += 16) {
    __mmask16 m = lanes(n - j);
    __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), max));
    vsum = _mm512_mask_add_ps(vsum, m, vsum, e);
    _mm512_mask_storeu_ps(s + j, m, e);
  }
  __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
  for (int j = 0; j < n; j += 16) {
    __mmask16 m = lanes(n - j);
    _mm512_mask_storeu_ps(s + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), inv));
  }
}

/*
 * Rows of the KV cache, float32 or bfloat16 (the bfloat16 path's cache: half the bytes per token;
 * widened here by a 16-bit shift). `bf` is a constant at every call site, so each kernel below is
 * compiled once per cache type with no branch left in its loops.
 */
#define KV_INLINE static inline __attribute__((always_inline))

KV_INLINE __m512 kv_load(const void *row, int i, const int bf) {
  if (bf) {
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  return _mm512_loadu_ps((const float *)row + i);
}

KV_INLINE __m512 kv_load_masked(const void *row, int i, __mmask16 m, const int bf) {
  if (bf) {
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  return _mm512_maskz_loadu_ps(m, (const float *)row + i);
}

/* Row j of a block whose rows hold hd values of 4 (float32) or 2 (bfloat16) bytes. */
KV_INLINE const void *kv_row(const void *block, int64_t j, int hd, const int bf) {
  return (const char *)block + j * hd * (bf ? 2 : 4);
}

KV_INLINE float kv_dot(const float *a, const void *row, int n, const int bf) {
  __m512 acc = _mm512_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), kv_load(row, i, bf), acc);
  if (i < n) {
    __mmask16 m = lanes(n - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), kv_load_masked(row, i, m, bf), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

/* out[0..n) += p * row[0..n) */
KV_INLINE void kv_axpy(float p, const void *row, float *out, int n, const int bf) {
  __m512 pv = _mm512_set1_ps(p);
  int i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, _mm512_fmadd_ps(pv, kv_load(row, i, bf), _mm512_loadu_ps(out + i)));
  if (i < n) {
    __mmask16 m = lanes(n - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_fmadd_ps(pv, kv_load_masked(row, i, m, bf), _mm512_maskz_loadu_ps(m, out + i)));
  }
}

/*
 * Scores of the g query heads at q (g x 128) against m keys stored contiguously at keys (m x 128),
 * into scores[h * stride + j]. A dot product of one accumulator is a chain of eight dependent FMAs
 * plus a horizontal sum, so four keys go at a time in eight independent chains.
 */
KV_INLINE void scores128(const float *q, const void *keys, int m, int g, float scale, float *scores, int64_t stride,
                         const int bf) {
  int j = 0;
  for (; j + 4 <= m; j += 4) {
    for (int h = 0; h < g; h++) {
      const float *qh = q + (int64_t)h * 128;
      __m512 a[8];
      for (int t = 0; t < 8; t++) a[t] = _mm512_setzero_ps();
      for (int c = 0; c < 128; c += 32) {
        __m512 q0 = _mm512_loadu_ps(qh + c), q1 = _mm512_loadu_ps(qh + c + 16);
        for (int t = 0; t < 4; t++) {
          const void *kr = kv_row(keys, j + t, 128, bf);
          a[2 * t] = _mm512_fmadd_ps(q0, kv_load(kr, c, bf), a[2 * t]);
          a[2 * t + 1] = _mm512_fmadd_ps(q1, kv_load(kr, c + 16, bf), a[2 * t + 1]);
        }
      }
      float *s = scores + (int64_t)h * stride + j;
      for (int t = 0; t < 4; t++) s[t] = _mm512_reduce_add_ps(_mm512_add_ps(a[2 * t], a[2 * t + 1])) * scale;
    }
  }
  for (; j < m; j++) {
    for (int h = 0; h < g; h++) scores[(int64_t)h * stride + j] = kv_dot(q + (int64_t)h * 128, kv_row(keys, j, 128, bf), 128, bf) * scale;
  }
}

/*
 * out (g x 128) += the m values at values (m x 128) weighted by p[h * stride + j]: each head's output
 * stays in registers over the block, whose rows stay in L1 for all g heads.
 */
KV_INLINE void weighted128(const float *p, const void *values, int m, int g, int64_t stride, float *out, const int bf) {
  for (int h = 0; h < g; h++) {
    float *oh = out + (int64_t)h * 128;
    const float *ph = p + (int64_t)h * stride;
    __m512 acc[8];
    for (int c = 0; c < 8; c++) acc[c] = _mm512_loadu_ps(oh + 16 * c);
    for (int j = 0; j < m; j++) {
      __m512 pj = _mm512_set1_ps(ph[j]);
      const void *vr = kv_row(values, j, 128, bf);
      for (int c = 0; c < 8; c++) acc[c] = _mm512_fmadd_ps(pj, kv_load(vr, 16 * c, bf), acc[c]);
    }
    for (int c = 0; c < 8; c++) _mm512_storeu_ps(oh + 16 * c, acc[c]);
  }
}

static __thread float *scores;
static __thread int64_t scores_len;

/*
 * One (token, kv head) item: the g query heads at qh over positions 0..len of the sequence whose
 * block table is `table`, into oh; scores in the thread's scratch. Returns 0, or -1 without memory.
 */
KV_INLINE int attend(const void *kc, const void *vc, int kvHeads, int bs, int hd, const int *table, int kh, int len,
                     int g, float scale, const float *qh, float *oh, const int bf) {
  if ((int64_t)g * len > scores_len) {
    free(scores);
    scores_len = (int64_t)g * len * 2;
    scores = malloc(sizeof(float) * scores_len);
    if (scores == NULL) {
      scores_len = 0;
      return -1;
    }
  }
  int64_t blockBytes = (int64_t)bs * hd * (bf ? 2 : 4);
  for (int j0 = 0; j0 < len; j0 += bs) {
    int m = len - j0 < bs ? len - j0 : bs;
    const void *keys = (const char *)kc + ((int64_t)table[j0 / bs] * kvHeads + kh) * blockBytes;
    if (hd == 128) {
      scores128(qh, keys, m, g, scale, scores + j0, len, bf);
      continue;
    }
    for (int j = 0; j < m; j++) {
      const void *kr = kv_row(keys, j, hd, bf);
      for (int h = 0; h < g; h++) scores[(int64_t)h * len + j0 + j] = kv_dot(qh + (int64_t)h * hd, kr, hd, bf) * scale;
    }
  }
  for (int h = 0; h < g; h++) softmax(scores + (int64_t)h * len, len);
  for (int i = 0; i < g * hd; i++) oh[i] = 0;
  for (int j0 = 0; j0 < len; j0 += bs) {
    int m = len - j0 < bs ? len - j0 : bs;
    const void *values = (const char *)vc + ((int64_t)table[j0 / bs] * kvHeads + kh) * blockBytes;
    if (hd == 128) {
      weighted128(scores + j0, values, m, g, len, oh, bf);
      continue;
    }
    for (int j = 0; j < m; j++) {
      const void *vr = kv_row(values, j, hd, bf);
      for (int h = 0; h < g; h++) kv_axpy(scores[(int64_t)h * len + j0 + j], vr, oh + (int64_t)h * hd, hd, bf);
    }
  }
  return 0;
}

/*
 * Attention of new tokens over a paged KV cache: keys and values are [blocks, kvHeads, bs, hd] of
 * float32, or of bfloat16 when bf16 is set, and the keys and values of these tokens are already
 * written. Token t sees positions 0..positions[t] of its sequence, position j living in block
 * tables[starts[t] + j / bs] at row j % bs. Items [i0, i1) are (token, kv head) pairs, item =
 * t * kvHeads + kh; the g = heads / kvHeads query heads of kv head kh share each key and value row
 * they read. q and out are [n, heads * hd]; softmax in float32 (exp16) like the PyTorch path.
 * Head size 128 (both families' real models) has its own loops: prefill attention of a 512-token
 * prompt (24 layers) took 746 ms with the generic ones.
 * Returns 0, or -1 when memory for the scores could not be had.
 */
JNIEXPORT jint JNICALL Java_ai_zhiku_inference_kernel_NativeBf16Kernel_attention(
    JNIEnv *env, jclass cls, jobject kcache, jobject vcache, jboolean bf16, jint kvHeads, jint bs, jint hd,
    jintArray tables, jintArray starts, jintArray positions, jfloatArray q, jint heads, jfloat scale, jfloatArray out,
    jint i0, jint i1) {
  (void)cls;
  const void *kc = (*env)->GetDirectBufferAddress(env, kcache);
  const void *vc = (*env)->GetDirectBufferAddress(env, vcache);
  if (kc == NULL || vc == NULL) return -2;
  int g = heads / kvHeads;
  int rc = 0;
  int *tp = (*env)->GetPrimitiveArrayCritical(env, tables, NULL);
  int *sp = (*env)->GetPrimitiveArrayCritical(env, starts, NULL);
  int *pp = (*env)->GetPrimitiveArrayCritical(env, positions, NULL);
  float *qp = (*env)->GetPrimitiveArrayCritical(env, q, NULL);
  float *op = (*env)->GetPrimitiveArrayCritical(env, out, NULL);
  if (tp == NULL || sp == NULL || pp == NULL || qp == NULL || op == NULL) {
    rc = -2;
    goto done;
  }
  for (int item = i0; item < i1 && rc == 0; item++) {
    int t = item / kvHeads, kh = item % kvHeads;
    const float *qh = qp + ((int64_t)t * heads + (int64_t)kh * g) * hd;
    float *oh = op + ((int64_t)t * heads + (int64_t)kh * g) * hd;
    rc = bf16 ? attend(kc, vc, kvHeads, bs, hd, tp + sp[t], kh, pp[t] + 1, g, scale, qh, oh, 1)
              : attend(kc, vc, kvHeads, bs, hd, tp + sp[t], kh, pp[t] + 1, g, scale, qh, oh, 0);
  }
done:
  if (op != NULL) (*env)->ReleasePrimitiveArrayCritical(env, out, op, 0);
  if (qp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, q, qp, JNI_ABORT);
  if (pp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, positions, pp, JNI_ABORT);
  if (sp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, starts, sp, JNI_ABORT);
  if (tp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, tables, tp, JNI_ABORT);
  return rc;
}

/* out[r, i] = silu(g) * u for rows [r0, r1) of [gate | up] (width 2 * ffn), silu(g) = g / (1 + e^-g). */
JNIEXPORT void JNICALL Java_ai_zhiku_inference_kernel_NativeBf16Kernel_swiGlu(
    JNIEnv *env, jclass cls, jfloatArray gateUp, jint r0, jint r1, jint ffn, jfloatArray out) {
  (void)cls;
  float *gp = (*env)->GetPrimitiveArrayCritical(env, gateUp, NULL);
  float *op = (*env)->GetPrimitiveArrayCritical(env, out, NULL);
  if (gp != NULL && op != NULL) {
    __m512 one = _mm512_set1_ps(1.0f);
    for (int r = r0; r < r1; r++) {
      const float *g = gp + (int64_t)r * 2 * ffn, *u = g + ffn;
      float *o = op + (int64_t)r * ffn;
      for (int i = 0; i < ffn; i += 16) {
        __mmask16 m = lanes(ffn - i);
        __m512 gv = _mm512_maskz_loadu_ps(m, g + i);
        __m512 silu = _mm512_div_ps(gv, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), gv))));
        _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, u + i)));
      }
    }
  }
  if (op != NULL) (*env)->ReleasePrimitiveArrayCritical(env, out, op, 0);
  if (gp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, gateUp, gp, JNI_ABORT);
}

/* The set of functions this build has; the Java side refuses a library of another version. */
/* 1 when the bfloat16 products and rounding are in this build, 0 in the ZHIKU_NO_BF16 one. */
JNIEXPORT jint JNICALL Java_ai_zhiku_inference_kernel_NativeBf16Kernel_hasProducts(JNIEnv *env, jclass cls) {
  (void)env;
  (void)cls;
#ifdef ZHIKU_NO_BF16
  return 0;
#else
  return 1;
#endif
}

JNIEXPORT jint JNICALL Java_ai_zhiku_inference_kernel_NativeBf16Kernel_version(JNIEnv *env, jclass cls) {
  (void)env;
  (void)cls;
  return 5;
}
