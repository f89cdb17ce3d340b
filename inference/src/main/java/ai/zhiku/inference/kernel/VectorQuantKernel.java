package ai.zhiku.inference.kernel;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Quantized products on the Vector API, for CPUs without AVX512-VNNI (or without the native
 * library): as in the native kernel, one int lane per row of a block of 16, so each 64-byte step of
 * the packed layout meets one broadcast activation per column; the byte of column k + j of every
 * row is lane j's byte of the 16 ints. Same integer sums, same float order as the native kernel:
 * the same bits. Vectors are the CPU's preferred size (a 512-bit species is emulated, hundreds of
 * times slower, where the CPU has no AVX-512): with 8 int lanes (AVX2) a block is taken as two
 * halves of 8 rows, each over the whole row of activations.
 */
final class VectorQuantKernel {
  private static final VectorSpecies<Integer> I = species();
  private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, I.vectorShape());
  private static final VectorSpecies<Float> F = VectorSpecies.of(float.class, I.vectorShape());
  /** Lanes (rows) per vector, and vectors per block of 16 rows. */
  private static final int LANES = I.length();
  private static final int PARTS = PackedWeights.BLOCK / LANES;

  private static VectorSpecies<Integer> species() {
    VectorSpecies<Integer> preferred = IntVector.SPECIES_PREFERRED;
    return preferred.length() > PackedWeights.BLOCK ? IntVector.SPECIES_512 : preferred;
  }

  private VectorQuantKernel() {}

  static void multiply(PackedWeights w, QuantizedActivations a, int n, float[] y, int b0, int b1) {
    int cols = w.cols();
    int rows = w.rows();
    int group = w.group();
    int groups = w.groups();
    int offset = w.offset();
    byte[] data = w.data();
    float[] scales = w.scales();
    byte[] q = a.q;
    long blockBytes = PackedWeights.blockBytes(w.bits(), cols);
    float[] lanes = new float[PackedWeights.BLOCK];
    for (int b = b0; b < b1; b++) {
      int o0 = b * PackedWeights.BLOCK;
      int count = Math.min(PackedWeights.BLOCK, rows - o0);
      for (int r = 0; r < n; r++) {
        int base = r * cols;
        for (int h = 0; h < PARTS; h++) {
          FloatVector f = FloatVector.zero(F);
          int at = (int) (b * blockBytes) + h * LANES * 4;
          for (int g = 0; g < groups; g++) {
            IntVector acc = IntVector.zero(I);
            int k1 = (g + 1) * group;
            if (w.bits() == 8) {
              for (int k = g * group; k < k1; k += 4, at += 64) {
                IntVector v = ByteVector.fromArray(B, data, at).reinterpretAsInts();
                for (int j = 0; j < 4; j++) {
                  IntVector u = v.lanewise(VectorOperators.LSHR, 8 * j).and(0xFF);
                  acc = acc.add(u.mul(q[base + k + j]));
                }
              }
            } else {
              for (int k = g * group; k < k1; k += 8, at += 64) {
                IntVector v = ByteVector.fromArray(B, data, at).reinterpretAsInts();
                for (int j = 0; j < 4; j++) {
                  acc = acc.add(v.lanewise(VectorOperators.LSHR, 8 * j).and(0xF).mul(q[base + k + j]));
                  acc = acc.add(v.lanewise(VectorOperators.LSHR, 8 * j + 4).and(0xF).mul(q[base + k + 4 + j]));
                }
              }
            }
            int rg = r * groups + g;
            IntVector corrected = acc.sub(offset * a.sums[rg]);
            FloatVector scale = FloatVector.fromArray(F, scales, (b * groups + g) * PackedWeights.BLOCK + h * LANES).mul(a.scales[rg]);
            f = ((FloatVector) corrected.convert(VectorOperators.I2F, 0)).fma(scale, f);
          }
          f.intoArray(lanes, h * LANES);
        }
        System.arraycopy(lanes, 0, y, r * rows + o0, count);
      }
    }
  }
}
