package ai.zhiku.inference.kernel;

/**
 * {@code y = x · wᵀ} for a bfloat16 weight {@code w} [out, in] (row-major) and float32
 * activations {@code x} [rows, in], accumulated in float32; {@code y} is [rows, out]. One call
 * computes the output columns {@code [o0, o1)} for every row, so callers can split the work over
 * threads by output range, each reading its own slice of the weight once for all rows.
 */
interface Bf16Kernel {
  void multiply(short[] w, int in, float[] x, int rows, float[] y, int out, int o0, int o1);
}
