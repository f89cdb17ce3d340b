/*
 * Products of int8- and int4-quantized weights with int8-quantized activations, for CPUs with
 * AVX512-VNNI (Intel from Cascade Lake on, AMD Zen 4 on), called from
 * ai.zhiku.inference.kernel.NativeQuantKernel. vpdpbusd multiplies 64 unsigned-by-signed byte
 * pairs and adds them, four at a time, into 16 int32 lanes in one instruction; the Vector API has
 * no such operation (widening bytes to ints first costs four instructions per 16 products).
 *
 * Layout (see ai.zhiku.inference.kernel.PackedWeights): rows in blocks of 16, one int32 lane per
 * row, so a block's 16 outputs build up in one register and no horizontal sum is ever needed.
 *   int8: for every 4 columns, 64 bytes = 16 rows x 4 weights, stored as q + 128 (unsigned)
 *   int4: for every 8 columns, 64 bytes = 16 rows x 4 bytes, byte j holding column j in its low
 *         nibble and column j + 4 in its high one, stored as q + 8 (unsigned)
 *   scales: float [block][group][16]
 * Activations: int8 [n][cols] with a float scale and the int sum of each group [n][groups].
 *
 *   y[r][o] = sum_g ((float)(sum_{k in g} u[o][k] * a[r][k] - offset * asum[r][g])) * (ws[o][g] * as[r][g])
 *
 * accumulated group by group in float32 with fused multiply-adds, in the same order as the Java
 * kernel, so both give the same bits. Nothing here runs unless Java has checked the CPU flag.
 */
#include <immintrin.h>
#include <jni.h>
#include <stdint.h>

#define MAX_NT 8

/*
 * Outputs of row block b (16 rows) for activation rows [r0, r0 + nt): nt int32 accumulators per
 * group, folded into nt float32 accumulators with the group's scales.
 */
static inline __attribute__((always_inline)) void block_rows(
    const uint8_t *wb, const float *sb, int bits, int cols, int group, const int8_t *a, const float *as,
    const int32_t *asum, int r0, const int nt, float *y, int out, int o0, __mmask16 keep) {
  const int groups = cols / group;
  const int offset = bits == 8 ? 128 : 8;
  __m512 f[MAX_NT];
  for (int j = 0; j < nt; j++) f[j] = _mm512_setzero_ps();
  const uint8_t *wp = wb;
  const __m512i nib = _mm512_set1_epi8(0x0f);
  /* with one or two activation rows a single accumulator per row would wait on vpdpbusd's latency
     at every step: then consecutive steps go to `ways` accumulators, summed at the group's end
     (integer sums: the result is the same in any order) */
  const int ways = nt == 1 ? 4 : nt == 2 ? 2 : 1;
  for (int g = 0; g < groups; g++) {
    __m512i acc[MAX_NT * 4];
    for (int j = 0; j < nt * ways; j++) acc[j] = _mm512_setzero_si512();
    const int k0 = g * group, k1 = k0 + group;
    if (bits == 8) {
      int step = 0;
      for (int k = k0; k < k1; k += 4, wp += 64, step++) {
        __m512i w = _mm512_loadu_si512(wp);
        const int way = step % ways;
        for (int j = 0; j < nt; j++) {
          int32_t q;
          __builtin_memcpy(&q, a + (int64_t)(r0 + j) * cols + k, 4);
          acc[j * ways + way] = _mm512_dpbusd_epi32(acc[j * ways + way], w, _mm512_set1_epi32(q));
        }
      }
    } else {
      int step = 0;
      for (int k = k0; k < k1; k += 8, wp += 64, step++) {
        __m512i w = _mm512_loadu_si512(wp);
        __m512i lo = _mm512_and_si512(w, nib);
        __m512i hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), nib);
        const int way = step % ways;
        for (int j = 0; j < nt; j++) {
          int32_t q0, q1;
          const int8_t *ar = a + (int64_t)(r0 + j) * cols + k;
          __builtin_memcpy(&q0, ar, 4);
          __builtin_memcpy(&q1, ar + 4, 4);
          acc[j * ways + way] = _mm512_dpbusd_epi32(acc[j * ways + way], lo, _mm512_set1_epi32(q0));
          acc[j * ways + way] = _mm512_dpbusd_epi32(acc[j * ways + way], hi, _mm512_set1_epi32(q1));
        }
      }
    }
    if (ways > 1) {
      for (int j = 0; j < nt; j++) {
        __m512i sum = acc[j * ways];
        for (int v = 1; v < ways; v++) sum = _mm512_add_epi32(sum, acc[j * ways + v]);
        acc[j * ways] = sum;
      }
    }
    __m512 ws = _mm512_loadu_ps(sb + (int64_t)g * 16);
    for (int j = 0; j < nt; j++) {
      int64_t rg = (int64_t)(r0 + j) * groups + g;
      __m512i corrected = _mm512_sub_epi32(acc[j * ways], _mm512_set1_epi32(offset * asum[rg]));
      __m512 scale = _mm512_mul_ps(ws, _mm512_set1_ps(as[rg]));
      f[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(corrected), scale, f[j]);
    }
  }
  for (int j = 0; j < nt; j++) _mm512_mask_storeu_ps(y + (int64_t)(r0 + j) * out + o0, keep, f[j]);
}

static void multiply(const uint8_t *w, const float *s, int bits, int rows, int cols, int group, const int8_t *a,
                     const float *as, const int32_t *asum, int n, float *y, int b0, int b1) {
  const int64_t block_bytes = (int64_t)cols * 16 * bits / 8;
  const int groups = cols / group;
  for (int b = b0; b < b1; b++) {
    const uint8_t *wb = w + b * block_bytes;
    const float *sb = s + (int64_t)b * groups * 16;
    int o0 = b * 16;
    int left = rows - o0;
    __mmask16 keep = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
    int r = 0;
    for (; r + MAX_NT <= n; r += MAX_NT) block_rows(wb, sb, bits, cols, group, a, as, asum, r, MAX_NT, y, rows, o0, keep);
    switch (n - r) {
      case 7: block_rows(wb, sb, bits, cols, group, a, as, asum, r, 7, y, rows, o0, keep); break;
      case 6: block_rows(wb, sb, bits, cols, group, a, as, asum, r, 6, y, rows, o0, keep); break;
      case 5: block_rows(wb, sb, bits, cols, group, a, as, asum, r, 5, y, rows, o0, keep); break;
      case 4: block_rows(wb, sb, bits, cols, group, a, as, asum, r, 4, y, rows, o0, keep); break;
      case 3: block_rows(wb, sb, bits, cols, group, a, as, asum, r, 3, y, rows, o0, keep); break;
      case 2: block_rows(wb, sb, bits, cols, group, a, as, asum, r, 2, y, rows, o0, keep); break;
      case 1: block_rows(wb, sb, bits, cols, group, a, as, asum, r, 1, y, rows, o0, keep); break;
      default: break;
    }
  }
}

JNIEXPORT void JNICALL Java_ai_zhiku_inference_kernel_NativeQuantKernel_multiply(
    JNIEnv *env, jclass cls, jbyteArray w, jfloatArray s, jint bits, jint rows, jint cols, jint group, jbyteArray a,
    jfloatArray as, jintArray asum, jint n, jfloatArray y, jint b0, jint b1) {
  (void)cls;
  uint8_t *wp = (*env)->GetPrimitiveArrayCritical(env, w, NULL);
  float *sp = (*env)->GetPrimitiveArrayCritical(env, s, NULL);
  int8_t *ap = (*env)->GetPrimitiveArrayCritical(env, a, NULL);
  float *asp = (*env)->GetPrimitiveArrayCritical(env, as, NULL);
  int32_t *sump = (*env)->GetPrimitiveArrayCritical(env, asum, NULL);
  float *yp = (*env)->GetPrimitiveArrayCritical(env, y, NULL);
  if (wp != NULL && sp != NULL && ap != NULL && asp != NULL && sump != NULL && yp != NULL) {
    multiply(wp, sp, bits, rows, cols, group, ap, asp, sump, n, yp, b0, b1);
  }
  /* mode 0 on y writes back a copy if the VM made one; the inputs are never changed (JNI_ABORT) */
  if (yp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, y, yp, 0);
  if (sump != NULL) (*env)->ReleasePrimitiveArrayCritical(env, asum, sump, JNI_ABORT);
  if (asp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, as, asp, JNI_ABORT);
  if (ap != NULL) (*env)->ReleasePrimitiveArrayCritical(env, a, ap, JNI_ABORT);
  if (sp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, s, sp, JNI_ABORT);
  if (wp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, w, wp, JNI_ABORT);
}

JNIEXPORT jint JNICALL Java_ai_zhiku_inference_kernel_NativeQuantKernel_version(JNIEnv *env, jclass cls) {
  (void)env;
  (void)cls;
  return 1;
}
