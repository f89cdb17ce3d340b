package ai.zhiku.embeddings;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.zhiku.inference.weights.WeightsIndex;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A Hugging Face {@code BertModel} forward pass in DJL NDArray ops on the PyTorch engine, float32
 * compute whatever the stored dtype: embeddings (word + absolute position + token type 0) and
 * LayerNorm, then per layer self-attention with the additive mask {@code (1 - mask) · float32_min}
 * and an erf-GELU feed-forward block, each followed by a residual LayerNorm. No pooler: pooling is
 * the sentence-transformers recipe applied to the last hidden state.
 *
 * <p>Weights live in one manager that is capped after loading, so any array a forward pass
 * attached to it by mistake would throw; each pass runs in its own sub-manager, closed before
 * the call returns.
 */
final class BertEncoder implements Encoder {

  private final BertConfig config;
  private final NDManager weights;
  private final NDArray wordEmbeddings; // [vocab, hidden]
  private final NDArray positionEmbeddings; // [maxPositions, hidden]
  private final NDArray tokenType0; // [hidden]
  private final NDArray embeddingNormWeight;
  private final NDArray embeddingNormBias;
  private final List<Layer> layers = new ArrayList<>();

  /** One transformer layer's weights; linear weights are torch-shaped [out, in]. */
  private record Layer(
      NDArray qW, NDArray qB, NDArray kW, NDArray kB, NDArray vW, NDArray vB,
      NDArray oW, NDArray oB, NDArray attnNormW, NDArray attnNormB,
      NDArray upW, NDArray upB, NDArray downW, NDArray downB, NDArray outNormW, NDArray outNormB) {}

  private BertEncoder(BertConfig config, WeightsIndex index, Device device) {
    this.config = config;
    this.weights = NDManager.newBaseManager(device, "PyTorch");
    try {
      String p = index.contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";
      wordEmbeddings = load(index, p + "embeddings.word_embeddings.weight");
      positionEmbeddings = load(index, p + "embeddings.position_embeddings.weight");
      NDArray types = load(index, p + "embeddings.token_type_embeddings.weight");
      tokenType0 = types.get(0);
      types.close();
      embeddingNormWeight = load(index, p + "embeddings.LayerNorm.weight");
      embeddingNormBias = load(index, p + "embeddings.LayerNorm.bias");
      for (int i = 0; i < config.layers(); i++) {
        String l = p + "encoder.layer." + i + ".";
        layers.add(
            new Layer(
                load(index, l + "attention.self.query.weight"), load(index, l + "attention.self.query.bias"),
                load(index, l + "attention.self.key.weight"), load(index, l + "attention.self.key.bias"),
                load(index, l + "attention.self.value.weight"), load(index, l + "attention.self.value.bias"),
                load(index, l + "attention.output.dense.weight"), load(index, l + "attention.output.dense.bias"),
                load(index, l + "attention.output.LayerNorm.weight"), load(index, l + "attention.output.LayerNorm.bias"),
                load(index, l + "intermediate.dense.weight"), load(index, l + "intermediate.dense.bias"),
                load(index, l + "output.dense.weight"), load(index, l + "output.dense.bias"),
                load(index, l + "output.LayerNorm.weight"), load(index, l + "output.LayerNorm.bias")));
      }
      checkShapes();
      weights.cap();
    } catch (RuntimeException e) {
      weights.close();
      throw e;
    }
  }

  /** Loads {@code dir}'s config.json and weights (safetensors or .bin, sharded or not). */
  static BertEncoder load(Path dir, Device device) throws IOException {
    DjlSetup.ensureOffline();
    BertConfig config = BertConfig.read(dir);
    try (WeightsIndex index = WeightsIndex.open(dir)) {
      return new BertEncoder(config, index, device);
    } catch (ai.zhiku.inference.weights.CheckpointException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  private NDArray load(WeightsIndex index, String name) {
    return index.toNDArray(name, weights, DataType.FLOAT32);
  }

  private void checkShapes() {
    int h = config.hiddenSize();
    expect("word_embeddings", wordEmbeddings, -1, h);
    expect("position_embeddings", positionEmbeddings, config.maxPositions(), h);
    for (int i = 0; i < layers.size(); i++) {
      Layer l = layers.get(i);
      expect("layer " + i + " query", l.qW(), h, h);
      expect("layer " + i + " intermediate", l.upW(), config.intermediateSize(), h);
      expect("layer " + i + " output", l.downW(), h, config.intermediateSize());
    }
  }

  private static void expect(String what, NDArray array, long rows, long cols) {
    Shape s = array.getShape();
    if (s.dimension() != 2 || (rows >= 0 && s.get(0) != rows) || s.get(1) != cols) {
      throw new IllegalArgumentException(
          "weights: " + what + " has shape " + s + ", config.json implies [" + (rows < 0 ? "?" : rows) + ", " + cols + "]");
    }
  }

  @Override
  public int hiddenSize() {
    return config.hiddenSize();
  }

  @Override
  public float[][] encode(long[][] rows, SentencePooling pooling) {
    int seq = Encoder.longest(rows);
    try (NDManager call = weights.newSubManager()) {
      long[][] packed = Encoder.pad(rows, seq);
      NDArray mask = call.create(packed[1], new Shape(rows.length, seq)).toType(DataType.FLOAT32, false);
      NDArray hidden = forward(call, packed[0], mask, rows.length, seq); // [b, s, h]
      NDArray pooled;
      if (pooling.mode() == SentencePooling.Mode.CLS) {
        pooled = hidden.get(new NDIndex(":, 0, :"));
      } else {
        NDArray weightsMask = mask.expandDims(2); // [b, s, 1]
        pooled = hidden.mul(weightsMask).sum(new int[] {1}).div(mask.sum(new int[] {1}, true).maximum(1e-9f));
      }
      float[] flat = pooled.toDevice(Device.cpu(), false).toFloatArray();
      int h = config.hiddenSize();
      float[][] out = new float[rows.length][];
      for (int r = 0; r < rows.length; r++) {
        out[r] = java.util.Arrays.copyOfRange(flat, r * h, (r + 1) * h);
      }
      return out;
    }
  }

  @Override
  public float[] lastHiddenState(long[] ids) {
    try (NDManager call = weights.newSubManager()) {
      long[] ones = new long[ids.length];
      java.util.Arrays.fill(ones, 1L);
      NDArray mask = call.create(ones, new Shape(1, ids.length)).toType(DataType.FLOAT32, false);
      return forward(call, ids, mask, 1, ids.length).toDevice(Device.cpu(), false).toFloatArray();
    }
  }

  /** last_hidden_state [b, s, h] for right-padded ids, attached to {@code call}. */
  private NDArray forward(NDManager call, long[] flatIds, NDArray mask, int batch, int seq) {
    // PyTorch's thread count belongs to the calling thread and a thread's first use takes the
    // process default, which a bfloat16 chat model in the same JVM lowers during its decode steps
    int threads = Integer.parseInt(System.getProperty("ai.djl.pytorch.num_threads", Integer.toString(DjlSetup.cores())));
    if (JniUtils.getNumThreads() != threads) JniUtils.setNumThreads(threads);
    if (seq > config.maxPositions()) {
      throw new IllegalArgumentException("sequence of " + seq + " tokens exceeds max_position_embeddings " + config.maxPositions());
    }
    int h = config.hiddenSize();
    int heads = config.heads();
    int d = config.headSize();
    float eps = config.layerNormEps();
    Shape normShape = new Shape(h);

    NDArray ids = call.create(flatIds, new Shape(batch, seq));
    NDArray x = ids.getNDArrayInternal().embedding(ids, wordEmbeddings, SparseFormat.DENSE).singletonOrThrow();
    NDArray positionIds = call.arange(0, seq, 1, DataType.INT64);
    NDArray positions =
        positionIds.getNDArrayInternal().embedding(positionIds, positionEmbeddings, SparseFormat.DENSE).singletonOrThrow();
    x = x.add(positions).add(tokenType0);
    x = layerNorm(x, normShape, embeddingNormWeight, embeddingNormBias, eps);

    // additive mask [b, 1, 1, s]: 0 where attended, float32_min where padded
    NDArray additive = mask.neg().add(1f).mul(-Float.MAX_VALUE).reshape(batch, 1, 1, seq);
    float scale = (float) (1.0 / Math.sqrt(d));
    for (Layer l : layers) {
      NDArray q = heads(linear(x, l.qW(), l.qB()), batch, seq, heads, d); // [b, heads, s, d]
      NDArray k = heads(linear(x, l.kW(), l.kB()), batch, seq, heads, d);
      NDArray v = heads(linear(x, l.vW(), l.vB()), batch, seq, heads, d);
      NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).mul(scale).add(additive); // [b, heads, s, s]
      NDArray context = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(batch, seq, h);
      NDArray attended = linear(context, l.oW(), l.oB());
      x = layerNorm(attended.add(x), normShape, l.attnNormW(), l.attnNormB(), eps);
      NDArray inner = linear(x, l.upW(), l.upB()).getNDArrayInternal().gelu();
      NDArray out = linear(inner, l.downW(), l.downB());
      x = layerNorm(out.add(x), normShape, l.outNormW(), l.outNormB(), eps);
    }
    return x;
  }

  private static NDArray heads(NDArray x, int batch, int seq, int heads, int d) {
    return x.reshape(batch, seq, heads, d).transpose(0, 2, 1, 3);
  }

  private static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
    NDList out = x.getNDArrayInternal().linear(x, weight, bias);
    return out.singletonOrThrow();
  }

  private static NDArray layerNorm(NDArray x, Shape shape, NDArray gamma, NDArray beta, float eps) {
    return x.getNDArrayInternal().layerNorm(x, shape, gamma, beta, eps).singletonOrThrow();
  }

  @Override
  public int residentArrays() {
    return weights.getManagedArrays().size();
  }

  @Override
  public void close() {
    weights.close();
  }
}
