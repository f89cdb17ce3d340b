package ai.zhiku.inference.model.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.zhiku.inference.model.ModelConfig.Rope;

/** Applies rotary position embeddings to query/key rows at their absolute positions. */
public final class RotaryEmbedding {
  private final Rope rope;
  private final int headDim;

  public RotaryEmbedding(Rope rope, int headDim) {
    this.rope = rope;
    this.headDim = headDim;
  }

  /** cos and sin of each position's angles, [tokens, width] row-major. */
  public record Tables(float[] cos, float[] sin, int width) {}

  /** Per-step tables for the given positions: cos and sin, [tokens, 1, dims]. */
  public NDList tables(NDManager step, int[] positions, int kvLength, DataType dtype) {
    Tables t = arrays(positions, kvLength);
    int n = positions.length;
    NDArray c = step.create(t.cos(), new Shape(n, 1, t.width()));
    NDArray s = step.create(t.sin(), new Shape(n, 1, t.width()));
    if (dtype != DataType.FLOAT32) {
      c = c.toType(dtype, false);
      s = s.toType(dtype, false);
    }
    return new NDList(c, s);
  }

  /**
   * The tables as Java arrays: width is half the rotary dimensions for the interleaved form
   * (ChatGLM2), the head dimension for rotate-half (InternLM2, each angle twice).
   */
  public Tables arrays(int[] positions, int kvLength) {
    int rotDims = rope instanceof Rope.Interleaved i ? i.rotaryDims() : headDim;
    int half = rotDims / 2;
    double base = rope instanceof Rope.Interleaved i ? i.base() : ((Rope.RotateHalf) rope).base();
    double posScale = 1;
    if (rope instanceof Rope.RotateHalf r) {
      if (r.scaling().equals("linear")) posScale = 1 / r.factor();
      if (r.scaling().equals("dynamic") && kvLength > r.maxPositions()) {
        base = base * Math.pow(r.factor() * kvLength / r.maxPositions() - (r.factor() - 1), (double) rotDims / (rotDims - 2));
      }
    }
    float[] invFreq = new float[half];
    for (int k = 0; k < half; k++) invFreq[k] = (float) (1.0 / Math.pow(base, (2.0 * k) / rotDims));
    int n = positions.length;
    boolean interleaved = rope instanceof Rope.Interleaved;
    int width = interleaved ? half : rotDims;
    float[] cos = new float[n * width];
    float[] sin = new float[n * width];
    for (int t = 0; t < n; t++) {
      float p = (float) (positions[t] * posScale);
      for (int k = 0; k < half; k++) {
        float angle = p * invFreq[k]; // float32 product, as torch.outer computes it
        float c = (float) Math.cos(angle);
        float s = (float) Math.sin(angle);
        cos[t * width + k] = c;
        sin[t * width + k] = s;
        if (!interleaved) {
          cos[t * width + k + half] = c;
          sin[t * width + k + half] = s;
        }
      }
    }
    return new Tables(cos, sin, width);
  }

  /**
   * Rotates, in place, heads {@code [0, heads)} of each of {@code n} rows of {@code x} (row
   * {@code t} at {@code t * stride}, head h at {@code h * headDim} in it) by token t's angles: the
   * same float32 arithmetic as {@link #apply}, on Java arrays.
   */
  public void applyRows(float[] x, int n, int stride, int heads, Tables t) {
    float[] cos = t.cos();
    float[] sin = t.sin();
    int w = t.width();
    for (int r = 0; r < n; r++) {
      for (int h = 0; h < heads; h++) {
        int o = r * stride + h * headDim;
        if (rope instanceof Rope.Interleaved) {
          for (int k = 0; k < w; k++) {
            float x0 = x[o + 2 * k];
            float x1 = x[o + 2 * k + 1];
            float c = cos[r * w + k];
            float s = sin[r * w + k];
            x[o + 2 * k] = x0 * c - x1 * s;
            x[o + 2 * k + 1] = x1 * c + x0 * s;
          }
        } else {
          int half = headDim / 2;
          for (int k = 0; k < half; k++) {
            float x1 = x[o + k];
            float x2 = x[o + k + half];
            x[o + k] = x1 * cos[r * w + k] + -x2 * sin[r * w + k];
            x[o + k + half] = x2 * cos[r * w + k + half] + x1 * sin[r * w + k + half];
          }
        }
      }
    }
  }

  /** x: [tokens, heads, headDim]; returns the rotated copy. */
  public NDArray apply(NDArray x, NDList tables) {
    NDArray cos = tables.get(0);
    NDArray sin = tables.get(1);
    long n = x.getShape().get(0);
    long heads = x.getShape().get(1);
    if (rope instanceof Rope.Interleaved i) {
      int rot = i.rotaryDims();
      NDArray xr = x.get(":, :, :{}", rot).reshape(n, heads, rot / 2, 2);
      NDArray x0 = xr.get(":, :, :, 0");
      NDArray x1 = xr.get(":, :, :, 1");
      NDArray o0 = x0.mul(cos).sub(x1.mul(sin));
      NDArray o1 = x1.mul(cos).add(x0.mul(sin));
      NDArray rotated = o0.stack(o1, 3).reshape(n, heads, rot);
      if (rot == headDim) return rotated;
      return rotated.concat(x.get(":, :, {}:", rot), 2);
    }
    int half = headDim / 2;
    NDArray x1 = x.get(":, :, :{}", half);
    NDArray x2 = x.get(":, :, {}:", half);
    NDArray rotatedHalf = x2.neg().concat(x1, 2);
    return x.mul(cos).add(rotatedHalf.mul(sin));
  }
}
