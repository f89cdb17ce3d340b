package ai.zhiku.inference.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Random;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The native decode attention against a double-precision reference over a cache laid out as KvCache's. */
class NativeAttentionTest {
  private static final int SLOTS = 3;
  private static final int KV_HEADS = 2;
  private static final int MAX_LEN = 40;

  @BeforeEach
  void nativeKernelOnly() {
    assumeTrue(NativeBf16Kernel.unavailable() == null, () -> "no native kernel here: " + NativeBf16Kernel.unavailable());
  }

  /** Head sizes with and without a vector tail, one and several query heads per kv head, tokens of several slots. */
  @Test
  void matchesAReferenceForRaggedPositionsAndSlots() {
    for (int hd : new int[] {24, 32, 128}) {
      for (int heads : new int[] {2, 6}) {
        check(hd, heads, new int[] {2, 0, 2, 1}, new int[] {5, 0, 6, MAX_LEN - 1});
      }
    }
    // a long single sequence spreads over both threads (its (token, kv head) items)
    check(128, 16, new int[] {0, 0, 0}, new int[] {MAX_LEN - 3, MAX_LEN - 2, MAX_LEN - 1});
    // head size 128 has its own loops: four keys at a time (and a tail), blocks of 64 keys
    check(128, 6, new int[] {1, 2, 0, 1}, new int[] {149, 130, 64, 2}, 150);
  }

  private void check(int hd, int heads, int[] slots, int[] positions) {
    check(hd, heads, slots, positions, MAX_LEN);
  }

  private void check(int hd, int heads, int[] slots, int[] positions, int maxLen) {
    Random rnd = new Random(hd * 31L + heads);
    int cacheFloats = SLOTS * KV_HEADS * maxLen * hd;
    ByteBuffer kb = ByteBuffer.allocateDirect(cacheFloats * 4).order(ByteOrder.nativeOrder());
    ByteBuffer vb = ByteBuffer.allocateDirect(cacheFloats * 4).order(ByteOrder.nativeOrder());
    FloatBuffer k = kb.asFloatBuffer();
    FloatBuffer v = vb.asFloatBuffer();
    for (int i = 0; i < cacheFloats; i++) {
      k.put(i, (float) rnd.nextGaussian());
      v.put(i, (float) rnd.nextGaussian());
    }
    int n = slots.length;
    float[] q = new float[n * heads * hd];
    for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian();
    float scale = (float) (1 / Math.sqrt(hd));
    float[] out = new float[q.length];
    Bf16Matmul.shared().attention(kb, vb, KV_HEADS, maxLen, hd, slots, positions, q, heads, scale, out);
    int g = heads / KV_HEADS;
    for (int t = 0; t < n; t++) {
      for (int h = 0; h < heads; h++) {
        int base = ((slots[t] * KV_HEADS + h / g) * maxLen) * hd;
        int len = positions[t] + 1;
        double[] s = new double[len];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < len; j++) {
          for (int i = 0; i < hd; i++) s[j] += (double) q[(t * heads + h) * hd + i] * k.get(base + j * hd + i);
          s[j] *= scale;
          max = Math.max(max, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < len; j++) sum += s[j] = Math.exp(s[j] - max);
        for (int i = 0; i < hd; i++) {
          double o = 0;
          for (int j = 0; j < len; j++) o += s[j] / sum * v.get(base + j * hd + i);
          assertThat((double) out[(t * heads + h) * hd + i]).as("hd %d heads %d token %d head %d dim %d", hd, heads, t, h, i)
              .isCloseTo(o, Offset.offset(1e-5));
        }
      }
    }
  }

  @Test
  void refusesPositionsOutsideTheCacheAndShortArrays() {
    int hd = 16;
    ByteBuffer kb = ByteBuffer.allocateDirect(SLOTS * KV_HEADS * MAX_LEN * hd * 4);
    ByteBuffer vb = ByteBuffer.allocateDirect(SLOTS * KV_HEADS * MAX_LEN * hd * 4);
    float[] q = new float[2 * hd];
    float[] out = new float[2 * hd];
    assertThatThrownBy(() -> Bf16Matmul.shared().attention(kb, vb, KV_HEADS, MAX_LEN, hd, new int[] {0}, new int[] {MAX_LEN},
        q, 2, 1f, out)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Bf16Matmul.shared().attention(kb, vb, KV_HEADS, MAX_LEN, hd, new int[] {SLOTS}, new int[] {0},
        q, 2, 1f, out)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Bf16Matmul.shared().attention(kb, vb, KV_HEADS, MAX_LEN, hd, new int[] {0, 0}, new int[] {0, 1},
        q, 2, 1f, new float[hd])).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Bf16Matmul.shared().attention(kb, vb, KV_HEADS, MAX_LEN, hd, new int[] {0}, new int[] {0},
        q, 3, 1f, out)).isInstanceOf(IllegalArgumentException.class);
  }
}
