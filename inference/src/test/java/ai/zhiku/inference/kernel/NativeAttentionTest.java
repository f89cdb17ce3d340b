package ai.zhiku.inference.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The native attention over a paged cache laid out as KvCache's ([blocks, kvHeads, bs, hd] of
 * float32 or bfloat16, block tables of shuffled blocks) against a double-precision reference that
 * reads each sequence's positions in order through its table.
 */
class NativeAttentionTest {
  private static final int KV_HEADS = 2;

  @BeforeEach
  void nativeKernelOnly() {
    assumeTrue(NativeBf16Kernel.attentionUnavailable() == null, () -> "no native attention here: " + NativeBf16Kernel.attentionUnavailable());
  }

  /**
   * Head sizes with and without a vector tail, one and several query heads per kv head, tokens of
   * several sequences at ragged positions on both sides of block boundaries, block sizes 4 and 16.
   */
  @Test
  void matchesAReferenceForRaggedPositionsAcrossBlocks() {
    for (boolean bf16 : new boolean[] {false, true}) {
      for (int bs : new int[] {4, 16}) {
        for (int hd : new int[] {24, 32, 128}) {
          for (int heads : new int[] {2, 6}) {
            check(bf16, bs, hd, heads, new int[] {2, 0, 2, 1}, new int[] {5, 0, 16, 39}, 40);
            check(bf16, bs, hd, heads, new int[] {1, 0}, new int[] {bs - 1, bs}, 40);
          }
        }
      }
      // a long single sequence spreads over both threads (its (token, kv head) items)
      check(bf16, 16, 128, 16, new int[] {0, 0, 0}, new int[] {37, 38, 39}, 40);
      // head size 128 has its own loops: four keys at a time and a tail within each block
      check(bf16, 16, 128, 6, new int[] {1, 2, 0, 1}, new int[] {149, 130, 64, 2}, 150);
    }
  }

  /** The cache's value at element i, as the kernel must read it. */
  private static float read(ByteBuffer b, boolean bf16, int i) {
    return bf16 ? Bf16.toFloat(b.getShort(2 * i)) : b.getFloat(4 * i);
  }

  private void check(boolean bf16, int bs, int hd, int heads, int[] seqOf, int[] positions, int maxLen) {
    Random rnd = new Random(hd * 31L + heads + bs);
    int seqs = 3;
    int perSeq = (maxLen + bs - 1) / bs;
    int blocks = seqs * perSeq + 5; // some blocks belong to nobody
    List<Integer> order = new ArrayList<>();
    for (int b = 0; b < blocks; b++) order.add(b);
    Collections.shuffle(order, rnd);
    int[] tables = new int[seqs * perSeq];
    for (int i = 0; i < tables.length; i++) tables[i] = order.get(i);
    int cacheValues = blocks * KV_HEADS * bs * hd;
    int width = bf16 ? 2 : 4;
    ByteBuffer kb = ByteBuffer.allocateDirect(cacheValues * width).order(ByteOrder.nativeOrder());
    ByteBuffer vb = ByteBuffer.allocateDirect(cacheValues * width).order(ByteOrder.nativeOrder());
    for (int i = 0; i < cacheValues; i++) {
      float kx = (float) rnd.nextGaussian();
      float vx = (float) rnd.nextGaussian();
      if (bf16) {
        kb.putShort(2 * i, Bf16.fromFloat(kx));
        vb.putShort(2 * i, Bf16.fromFloat(vx));
      } else {
        kb.putFloat(4 * i, kx);
        vb.putFloat(4 * i, vx);
      }
    }
    int n = seqOf.length;
    int[] starts = new int[n];
    for (int t = 0; t < n; t++) starts[t] = seqOf[t] * perSeq;
    float[] q = new float[n * heads * hd];
    for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian();
    float scale = (float) (1 / Math.sqrt(hd));
    float[] out = new float[q.length];
    Bf16Matmul.shared().attention(kb, vb, bf16, KV_HEADS, bs, hd, tables, starts, positions, q, heads, scale, out);
    int g = heads / KV_HEADS;
    for (int t = 0; t < n; t++) {
      for (int h = 0; h < heads; h++) {
        int len = positions[t] + 1;
        int[] row = new int[len]; // where position j's row of this kv head starts
        for (int j = 0; j < len; j++) row[j] = ((tables[starts[t] + j / bs] * KV_HEADS + h / g) * bs + j % bs) * hd;
        double[] s = new double[len];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < len; j++) {
          for (int i = 0; i < hd; i++) s[j] += (double) q[(t * heads + h) * hd + i] * read(kb, bf16, row[j] + i);
          s[j] *= scale;
          max = Math.max(max, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < len; j++) sum += s[j] = Math.exp(s[j] - max);
        for (int i = 0; i < hd; i++) {
          double o = 0;
          for (int j = 0; j < len; j++) o += s[j] / sum * read(vb, bf16, row[j] + i);
          assertThat((double) out[(t * heads + h) * hd + i])
              .as("bf16 %s bs %d hd %d heads %d token %d head %d dim %d", bf16, bs, hd, heads, t, h, i)
              .isCloseTo(o, Offset.offset(1e-5));
        }
      }
    }
  }

  @Test
  void refusesPositionsOutsideTheTableBlocksOutsideTheCacheAndShortArrays() {
    int hd = 16;
    int bs = 4;
    int blocks = 6;
    ByteBuffer kb = ByteBuffer.allocateDirect(blocks * KV_HEADS * bs * hd * 4);
    ByteBuffer vb = ByteBuffer.allocateDirect(blocks * KV_HEADS * bs * hd * 4);
    float[] q = new float[2 * hd];
    float[] out = new float[2 * hd];
    int[] table = {3, 1};
    // position 8 needs a third block
    assertThatThrownBy(() -> Bf16Matmul.shared().attention(kb, vb, false, KV_HEADS, bs, hd, table, new int[] {0}, new int[] {8},
        q, 2, 1f, out)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Bf16Matmul.shared().attention(kb, vb, false, KV_HEADS, bs, hd, new int[] {blocks}, new int[] {0},
        new int[] {0}, q, 2, 1f, out)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Bf16Matmul.shared().attention(kb, vb, false, KV_HEADS, bs, hd, new int[] {-1}, new int[] {0},
        new int[] {0}, q, 2, 1f, out)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Bf16Matmul.shared().attention(kb, vb, false, KV_HEADS, bs, hd, table, new int[] {0, 0}, new int[] {0, 1},
        q, 2, 1f, new float[hd])).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Bf16Matmul.shared().attention(kb, vb, false, KV_HEADS, bs, hd, table, new int[] {0}, new int[] {0},
        q, 3, 1f, out)).isInstanceOf(IllegalArgumentException.class);
  }
}
