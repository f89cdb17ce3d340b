package ai.zhiku.inference.weights.quantized;

import ai.zhiku.inference.weights.SafetensorsWriter;
import java.util.Random;

/**
 * Quantized layers and the tensors GPTQ, AWQ and THUDM's ChatGLM write for them, packed here from
 * the formats' definitions (independently of the readers under test).
 */
public final class PublishedLayouts {
  private PublishedLayouts() {}

  /** A layer's integers u, scales and zero points per row and group; column k is in group gIdx[k]. */
  public record Layer(int rows, int cols, int bits, int groups, int[] u, float[] scale, float[] zero, int[] gIdx) {
    public float weight(int r, int k) {
      int g = gIdx[k];
      return scale[r * groups + g] * (u[r * cols + k] - zero[r * groups + g]);
    }
  }

  static float half(float v) { return Float.float16ToFloat(Float.floatToFloat16(v)); }

  /** Groups of cols / groups columns, in order or shuffled (act order). */
  public static int[] groupIndex(int cols, int groups, Random rnd) {
    int[] g = new int[cols];
    for (int k = 0; k < cols; k++) g[k] = k / (cols / groups);
    if (rnd != null) {
      for (int k = cols - 1; k > 0; k--) {
        int j = rnd.nextInt(k + 1);
        int t = g[k];
        g[k] = g[j];
        g[j] = t;
      }
    }
    return g;
  }

  /** Random integers, float16 scales and zero points (the format's middle value when {@code sym}). */
  public static Layer random(Random rnd, int rows, int cols, int bits, int groups, boolean sym, int[] gIdx) {
    int max = (1 << bits) - 1;
    int[] u = new int[rows * cols];
    for (int i = 0; i < u.length; i++) u[i] = rnd.nextInt(max + 1);
    float[] scale = new float[rows * groups];
    float[] zero = new float[rows * groups];
    for (int i = 0; i < scale.length; i++) {
      scale[i] = half(0.001f + rnd.nextFloat() * 0.05f);
      zero[i] = sym ? (max + 1) / 2 : rnd.nextInt(max + 1);
    }
    return new Layer(rows, cols, bits, groups, u, scale, zero, gIdx);
  }

  /** {@code w} [rows, cols] rounded to nearest per row and group: with zero points unless {@code sym}. */
  public static Layer rtn(float[] w, int rows, int cols, int bits, int groups, boolean sym, int[] gIdx) {
    int max = (1 << bits) - 1;
    int[] u = new int[rows * cols];
    float[] scale = new float[rows * groups];
    float[] zero = new float[rows * groups];
    for (int r = 0; r < rows; r++) {
      for (int g = 0; g < groups; g++) {
        float lo = 0;
        float hi = 0;
        for (int k = 0; k < cols; k++) {
          if (gIdx[k] != g) continue;
          lo = Math.min(lo, w[r * cols + k]);
          hi = Math.max(hi, w[r * cols + k]);
        }
        float s;
        float z;
        if (sym) {
          s = half(Math.max(-lo, hi) / ((max + 1) / 2 - 1));
          z = (max + 1) / 2;
        } else {
          s = half((hi - lo) / max);
          z = s == 0 ? 0 : Math.max(0, Math.min(max, Math.round(-lo / s)));
        }
        if (s == 0) s = half(1e-4f);
        scale[r * groups + g] = s;
        zero[r * groups + g] = z;
        for (int k = 0; k < cols; k++) {
          if (gIdx[k] == g) u[r * cols + k] = Math.max(0, Math.min(max, Math.round(w[r * cols + k] / s + z)));
        }
      }
    }
    return new Layer(rows, cols, bits, groups, u, scale, zero, gIdx);
  }

  /** GPTQ: qweight [cols·bits/32, rows] packed along the input, qzeros [groups, rows·bits/32] (minus one in v1). */
  public static void gptq(SafetensorsWriter out, String base, Layer l, boolean v1, boolean withGIdx) {
    int pack = 32 / l.bits();
    int mask = (1 << l.bits()) - 1;
    int[] qweight = new int[l.cols() / pack * l.rows()];
    for (int r = 0; r < l.rows(); r++) {
      for (int k = 0; k < l.cols(); k++) qweight[(k / pack) * l.rows() + r] |= l.u()[r * l.cols() + k] << (l.bits() * (k % pack));
    }
    int[] qzeros = new int[l.groups() * l.rows() / pack];
    float[] scales = new float[l.groups() * l.rows()];
    for (int r = 0; r < l.rows(); r++) {
      for (int g = 0; g < l.groups(); g++) {
        int z = (int) l.zero()[r * l.groups() + g];
        int s = v1 ? (z - 1) & mask : z;
        qzeros[g * (l.rows() / pack) + r / pack] |= s << (l.bits() * (r % pack));
        scales[g * l.rows() + r] = l.scale()[r * l.groups() + g];
      }
    }
    out.i32(base + ".qweight", qweight, l.cols() / pack, l.rows());
    out.i32(base + ".qzeros", qzeros, l.groups(), l.rows() / pack);
    out.f16(base + ".scales", scales, l.groups(), l.rows());
    if (withGIdx) out.i32(base + ".g_idx", l.gIdx(), l.cols());
  }

  /** AWQ GEMM: qweight [cols, rows/8], row 8c + ORDER[i] of column k in bits 4i of element [k, c]. */
  public static void awq(SafetensorsWriter out, String base, Layer l) {
    int[] order = {0, 2, 4, 6, 1, 3, 5, 7};
    int packed = l.rows() / 8;
    int[] qweight = new int[l.cols() * packed];
    int[] qzeros = new int[l.groups() * packed];
    float[] scales = new float[l.groups() * l.rows()];
    for (int c = 0; c < packed; c++) {
      for (int i = 0; i < 8; i++) {
        int r = 8 * c + order[i];
        for (int k = 0; k < l.cols(); k++) qweight[k * packed + c] |= l.u()[r * l.cols() + k] << (4 * i);
        for (int g = 0; g < l.groups(); g++) qzeros[g * packed + c] |= ((int) l.zero()[r * l.groups() + g]) << (4 * i);
      }
    }
    for (int r = 0; r < l.rows(); r++) {
      for (int g = 0; g < l.groups(); g++) scales[g * l.rows() + r] = l.scale()[r * l.groups() + g];
    }
    out.i32(base + ".qweight", qweight, l.cols(), packed);
    out.i32(base + ".qzeros", qzeros, l.groups(), packed);
    out.f16(base + ".scales", scales, l.groups(), l.rows());
  }

  /** THUDM ChatGLM: int8 weight (int4: column 2j in the high half of byte j, 2j + 1 in the low), weight_scale per row. */
  public static void chatglm(SafetensorsWriter out, String base, Layer l) {
    if (l.groups() != 1) throw new IllegalArgumentException("ChatGLM scales rows, not groups");
    int offset = l.bits() == 8 ? 128 : 8;
    int perRow = l.cols() * l.bits() / 8;
    byte[] w = new byte[l.rows() * perRow];
    for (int r = 0; r < l.rows(); r++) {
      for (int k = 0; k < l.cols(); k++) {
        int v = l.u()[r * l.cols() + k] - offset;
        if (l.bits() == 8) {
          w[r * perRow + k] = (byte) v;
        } else if ((k & 1) == 0) {
          w[r * perRow + k / 2] |= (byte) (v << 4);
        } else {
          w[r * perRow + k / 2] |= (byte) (v & 0xF);
        }
      }
    }
    out.i8(base + ".weight", w, l.rows(), perRow);
    out.f16(base + ".weight_scale", l.scale(), l.rows());
  }
}
