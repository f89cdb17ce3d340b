package ai.zhiku.inference.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.zhiku.inference.kernel.Bf16Matmul;
import ai.zhiku.inference.model.layers.Bf16Matrix;
import ai.zhiku.inference.model.layers.HostMatrix;
import ai.zhiku.inference.model.layers.QuantizedMatrix;
import ai.zhiku.inference.model.layers.Layers;
import ai.zhiku.inference.model.layers.RotaryEmbedding;
import ai.zhiku.inference.model.layers.RowOps;
import ai.zhiku.inference.weights.WeightsIndex;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BiFunction;

/**
 * A pre-norm decoder with grouped-query attention, rotary positions, RMSNorm and SwiGLU: the
 * math ChatGLM2 and InternLM2 share. Families differ only in their config, their weight
 * layout (mapped to {@link ModelWeights} by each family's loader) and their rotary variant.
 *
 * <p>One {@link #forward} call runs a step for a batch of sequences, each with its own number
 * of new tokens at its own position: token-wise work (projections, MLP, norms) runs on all
 * tokens of the batch at once, attention per sequence against its blocks of the paged KV cache.
 */
public final class DecoderModel implements AutoCloseable {
  private final ModelConfig cfg;
  private final ModelWeights w;
  private final NDManager manager;
  private final Precision precision;
  private final DataType dtype;
  private final RotaryEmbedding rope;
  /** A layer's vectors as Java arrays, for decode steps that run in Java (bfloat16 only). */
  private record JavaVectors(float[] attnNorm, float[] ffnNorm, float[] qkvBias) {}

  /** Per layer; null unless the weights are bfloat16. */
  private final JavaVectors[] javaVectors;
  /** The final norm's weight, with {@link #javaVectors}. */
  private final float[] javaFinalNorm;
  /** Whether the projections are quantized ({@link QuantizedMatrix}). */
  private final boolean quantized;
  /** PyTorch's intra-op threads as configured for the engine. */
  private final int torchThreads;

  /**
   * New tokens of one sequence: they sit at positions start..start+tokens.length, position p in
   * block {@code blocks[p / blockSize]} of the cache; earlier positions are already in the cache.
   */
  public record SeqStep(int[] blocks, int[] tokens, int start) {
    int end() { return start + tokens.length; }
  }

  public DecoderModel(ModelConfig cfg, ModelWeights w, NDManager manager, Precision precision) {
    this.cfg = cfg;
    this.w = w;
    this.manager = manager;
    this.precision = precision;
    this.dtype = precision.activations();
    this.rope = new RotaryEmbedding(cfg.rope(), cfg.headDim());
    this.quantized = !w.layers().isEmpty() && w.layers().get(0).gateUp() instanceof QuantizedMatrix;
    String configured = System.getProperty("ai.djl.pytorch.num_threads");
    this.torchThreads = configured == null ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(configured.trim());
    if (precision == Precision.BFLOAT16 && w.embedding() instanceof Bf16Matrix && w.lmHead() instanceof HostMatrix) {
      javaFinalNorm = w.finalNorm().toFloatArray();
      javaVectors = new JavaVectors[cfg.numLayers()];
      for (int l = 0; l < cfg.numLayers(); l++) {
        LayerWeights lw = w.layers().get(l);
        javaVectors[l] = new JavaVectors(lw.attnNorm().toFloatArray(), lw.ffnNorm().toFloatArray(),
            lw.qkvBias() == null ? null : lw.qkvBias().toFloatArray());
      }
    } else {
      javaVectors = null;
      javaFinalNorm = null;
    }
  }

  /**
   * Reads the checkpoint in {@code dir} into a model: {@code layout} maps a family's tensor names
   * onto the shared layout.
   */
  public static DecoderModel load(Path dir, ModelConfig cfg, NDManager manager, WeightFormat format,
                                  BiFunction<WeightLoader, ModelConfig, ModelWeights> layout) {
    try (WeightsIndex index = WeightsIndex.open(dir)) {
      CheckpointShapes.check(index, cfg, format.stored());
      return new DecoderModel(cfg, layout.apply(new WeightLoader(index, manager, format), cfg), manager, format.precision());
    }
  }

  /**
   * With bfloat16 weights a step on Java arrays spends its time in our kernels, on their own
   * threads; what is left to PyTorch are small ops (or none), which ran 8% slower per decode step
   * with a second PyTorch thread waking and spinning beside ours on two cores. Steps through
   * PyTorch's layers keep all threads.
   * PyTorch's setting belongs to the calling thread but also becomes the default of threads that
   * start later, so every model sets what it wants on its own thread, whatever ran before.
   */
  private void torchThreadsFor(boolean javaLayers) {
    int want = javaLayers ? 1 : torchThreads;
    if (JniUtils.getNumThreads() != want) JniUtils.setNumThreads(want);
  }

  public ModelConfig config() { return cfg; }

  /** The weights, as loaded. */
  public ModelWeights weights() { return w; }

  /** The type of activations and of the KV cache. */
  public DataType dtype() { return dtype; }

  public Precision precision() { return precision; }

  /** The manager holding the weights; its array count stays constant while serving. */
  public NDManager manager() { return manager; }

  /** A paged KV cache for this model of {@code blocks} blocks of {@link KvCache#DEFAULT_BLOCK_SIZE} tokens. */
  public KvCache newCache(int blocks) {
    return newCache(blocks, bf16CacheAvailable());
  }

  /** A paged KV cache storing bfloat16 ({@code bf16}, where {@link #bf16CacheAvailable}) or the activation type. */
  public KvCache newCache(int blocks, boolean bf16) {
    if (bf16 && !bf16CacheAvailable()) throw new IllegalArgumentException("this model's attention cannot read a bfloat16 cache");
    return new KvCache(manager, cfg, blocks, KvCache.DEFAULT_BLOCK_SIZE, dtype, bf16);
  }

  /**
   * Whether this model's cache can store bfloat16: when every attention runs on the native kernel
   * (bfloat16 weights on a CPU that has it), which halves the cache's bytes per token and what a
   * long-context decode step reads; the values are the bfloat16 roundings the products' inputs get too.
   */
  public boolean bf16CacheAvailable() {
    return javaVectors != null && Bf16Matmul.nativeKernel() && manager.getDevice().equals(ai.djl.Device.cpu());
  }

  /**
   * Whether the cache stores bfloat16 for a {@code --kv-cache-dtype} of auto (bfloat16 where the
   * model's attention reads it: the compute precision), float32 (the activation type) or bfloat16.
   */
  public boolean bf16Cache(String kvCacheDtype) {
    String d = kvCacheDtype == null ? "auto" : kvCacheDtype;
    return switch (d) {
      case "auto" -> bf16CacheAvailable();
      case "float32", "float16" -> {
        if (!d.equals(dtype == DataType.FLOAT16 ? "float16" : "float32")) {
          throw ai.zhiku.common.ZhikuException.invalid("kv-cache-dtype", "--kv-cache-dtype " + d + " does not match this model's activations ("
              + dtype + "); use auto or " + (dtype == DataType.FLOAT16 ? "float16" : "float32"));
        }
        yield false;
      }
      case "bfloat16" -> {
        if (!bf16CacheAvailable()) {
          throw ai.zhiku.common.ZhikuException.invalid("kv-cache-dtype", "--kv-cache-dtype bfloat16 needs the native attention: "
              + "--dtype bfloat16 on a CPU with AVX512-BF16 (use auto or float32 here)");
        }
        yield true;
      }
      default -> throw ai.zhiku.common.ZhikuException.invalid("kv-cache-dtype", "--kv-cache-dtype must be auto, float32, float16 or bfloat16, got '" + d + "'");
    };
  }

  /** Bytes of KV cache per token (all layers, keys and values) in a cache of bfloat16 or of the activation type. */
  public long kvBytesPerToken(boolean bf16) { return KvCache.bytesPerToken(cfg, kvValueBytes(bf16)); }

  /** Bytes of one cached key or value element. */
  public int kvValueBytes(boolean bf16) { return bf16 ? 2 : dtype.getNumOfBytes(); }

  /**
   * Runs one step and writes the new keys and values into the cache.
   *
   * @return float32 logits, one row per sequence (its last new token), or one row per new token
   *     of every sequence in order when {@code allPositions}
   */
  public float[][] forward(List<SeqStep> batch, KvCache cache, boolean allPositions) {
    float[] flat = step(batch, cache, allPositions);
    int vocab = cfg.vocabSize();
    int rows = batch.size();
    if (allPositions) {
      rows = 0;
      for (SeqStep s : batch) rows += s.tokens().length;
    }
    float[][] out = new float[rows][];
    for (int r = 0; r < out.length; r++) out[r] = java.util.Arrays.copyOfRange(flat, r * vocab, (r + 1) * vocab);
    return out;
  }

  /**
   * Runs one step like {@link #forward} and returns the logits of each sequence's last new token in
   * one array, row i at {@code i * vocabSize}: the engine's call, which copies no row (16 rows of a
   * 92k vocabulary are 6 MB a step). The array may be longer than the rows and is reused by the
   * next call on this thread.
   */
  public float[] forwardLast(List<SeqStep> batch, KvCache cache) {
    return step(batch, cache, false);
  }

  /** Like {@link #forwardLast}, with a row for every new token of every sequence, in order (prompt logprobs). */
  public float[] forwardAll(List<SeqStep> batch, KvCache cache) {
    return step(batch, cache, true);
  }

  private float[] step(List<SeqStep> batch, KvCache cache, boolean allPositions) {
    int total = 0;
    for (SeqStep s : batch) {
      if (s.tokens().length == 0) throw new IllegalArgumentException("a sequence step needs at least one token");
      int used = blocksFor(s.end(), cache);
      if (s.start() < 0 || s.blocks().length < used) {
        throw new IllegalArgumentException("a sequence of " + s.end() + " tokens needs " + used + " blocks, it has " + s.blocks().length);
      }
      for (int i = 0; i < used; i++) {
        if (s.blocks()[i] < 0 || s.blocks()[i] >= cache.blocks()) throw new IllegalArgumentException("block " + s.blocks()[i] + " outside the cache");
      }
      total += s.tokens().length;
    }
    long[] ids = new long[total];
    int[] positions = new int[total];
    int maxKv = 0;
    int t = 0;
    for (SeqStep s : batch) {
      for (int i = 0; i < s.tokens().length; i++) {
        ids[t] = s.tokens()[i];
        positions[t++] = s.start() + i;
      }
      maxKv = Math.max(maxKv, s.start() + s.tokens().length);
    }
    // bfloat16 steps run on Java arrays: decode-sized ones always, prefill too when attention can
    // run on the native kernel (PyTorch's attention, SwiGLU and norms took 1.7 of 6.7 s of a
    // 512-token prefill, and each product copied its activations out of a tensor and back)
    // (on AVX-512 CPUs without AVX512-BF16 the attention kernel is there but the products run on the
    // Vector API, where prefill through PyTorch's layers on widened weights measured faster)
    boolean attentionKernel = javaVectors != null && Bf16Matmul.nativeAttention() && cache.hasBuffers();
    // quantized products have no widened PyTorch alternative: their steps always stay on Java arrays
    boolean javaLayers = javaVectors != null
        && (total < Bf16Matrix.WIDEN_ROWS || quantized || (attentionKernel && Bf16Matmul.nativeKernel()));
    boolean nativeAttention = javaLayers && attentionKernel;
    if (cache.packedBf16() && !nativeAttention) throw new IllegalStateException("a bfloat16 cache needs the native attention");
    torchThreadsFor(javaLayers);
    try (NDManager step = manager.newSubManager()) {
      // attention on the native kernel needs none of PyTorch's rotary tables, indices or masks
      NDList tables = nativeAttention ? null : rope.tables(step, positions, maxKv, dtype);
      DecodeBatch decode = nativeAttention ? null : DecodeBatch.of(step, batch, cache.blockSize());
      Paged[] paged = nativeAttention || decode != null ? null : Paged.of(step, batch, cache.blockSize());
      if (!nativeAttention) for (SeqStep s : batch) cache.zeroUnused(s.blocks(), blocksFor(s.end(), cache));
      NDArray[] masks = new NDArray[batch.size()]; // causal masks, built once per step
      if (javaLayers) {
        float[] x = layersInJava(step, ids, positions, maxKv, batch, cache, nativeAttention, tables, decode, paged, masks);
        return logitsInJava(x, batch, total, allPositions);
      }
      NDArray x = layersInTorch(step, ids, batch, cache, tables, decode, paged, masks);
      NDArray rows = x;
      if (!allPositions) {
        long[] last = new long[batch.size()];
        int end = 0;
        for (int i = 0; i < batch.size(); i++) {
          end += batch.get(i).tokens().length;
          last[i] = end - 1;
        }
        rows = x.get(new NDIndex("{}", step.create(last)));
      }
      NDArray logits = w.lmHead().multiply(Layers.rmsNorm(rows, w.finalNorm(), cfg.normEps()), null);
      if (logits.getDataType() != DataType.FLOAT32) logits = logits.toType(DataType.FLOAT32, false);
      return logits.toFloatArray();
    }
  }

  /**
   * The final norm and the head of a bfloat16 step on Java arrays: the logits of each
   * sequence's last token, or of every token. Through PyTorch, the copies of 16 sequences' logits
   * (6 MB) in and out of a tensor took 22 of 283 ms.
   */
  private float[] logitsInJava(float[] x, List<SeqStep> batch, int total, boolean allPositions) {
    int d = cfg.hiddenSize();
    int rows = allPositions ? total : batch.size();
    float[] h = new float[rows * d];
    if (allPositions) {
      System.arraycopy(x, 0, h, 0, total * d);
    } else {
      int end = 0;
      for (int i = 0; i < rows; i++) {
        end += batch.get(i).tokens().length;
        System.arraycopy(x, (end - 1) * d, h, i * d, d);
      }
    }
    RowOps.rmsNorm(h, javaFinalNorm, cfg.normEps(), rows, d, h);
    HostMatrix head = (HostMatrix) w.lmHead();
    int vocab = (int) head.rows();
    // one reused array for a step's logits: a fresh one this size (a G1 humongous object) every
    // step made the head of a 16-sequence step take 37 ms instead of 21. Not for the logits of every
    // prompt position (hundreds of MB, kept for as long as the thread lives).
    if (allPositions && rows > 1) {
      float[] all = new float[Math.multiplyExact(rows, vocab)];
      head.multiply(h, rows, all);
      return all;
    }
    float[] flat = LOGITS.get();
    if (flat.length < rows * vocab) LOGITS.set(flat = new float[rows * vocab]);
    head.multiply(h, rows, flat);
    return flat;
  }

  private static final ThreadLocal<float[]> LOGITS = ThreadLocal.withInitial(() -> new float[0]);

  private static int blocksFor(int tokens, KvCache cache) {
    return (tokens + cache.blockSize() - 1) / cache.blockSize();
  }

  /**
   * Index arrays of one sequence for attention on PyTorch: the rows its new tokens go to (block and
   * row of each) and its block table up to its last new token.
   */
  private record Paged(NDArray writeBlocks, NDArray writeOffsets, NDArray table) {
    static Paged[] of(NDManager step, List<SeqStep> batch, int bs) {
      Paged[] out = new Paged[batch.size()];
      for (int i = 0; i < out.length; i++) {
        SeqStep s = batch.get(i);
        int n = s.tokens().length;
        long[] blocks = new long[n];
        long[] offsets = new long[n];
        for (int t = 0; t < n; t++) {
          blocks[t] = s.blocks()[(s.start() + t) / bs];
          offsets[t] = (s.start() + t) % bs;
        }
        long[] table = new long[(s.end() + bs - 1) / bs];
        for (int b = 0; b < table.length; b++) table[b] = s.blocks()[b];
        out[i] = new Paged(step.create(blocks), step.create(offsets), step.create(table));
      }
      return out;
    }
  }

  /**
   * Index arrays for a step in which every sequence adds one token (null otherwise): the row each
   * new token goes to, the block tables padded to the longest, and a mask when lengths differ.
   */
  private record DecodeBatch(int size, NDArray writeBlocks, NDArray writeOffsets, NDArray tables, int maxLength, NDArray mask) {
    static DecodeBatch of(NDManager step, List<SeqStep> batch, int bs) {
      if (batch.size() < 2) return null;
      int b = batch.size();
      long[] writeBlocks = new long[b];
      long[] writeOffsets = new long[b];
      long[] pos = new long[b];
      int max = 0;
      boolean ragged = false;
      for (int i = 0; i < b; i++) {
        SeqStep s = batch.get(i);
        if (s.tokens().length != 1) return null;
        writeBlocks[i] = s.blocks()[s.start() / bs];
        writeOffsets[i] = s.start() % bs;
        pos[i] = s.start();
        max = Math.max(max, s.start() + 1);
        ragged |= i > 0 && s.start() != batch.get(0).start();
      }
      int used = (max + bs - 1) / bs;
      long[] tables = new long[b * used];
      for (int i = 0; i < b; i++) {
        int[] own = batch.get(i).blocks();
        int ownUsed = (int) (pos[i] / bs) + 1;
        // rows past a sequence's own length are masked; their entries repeat its first block
        for (int j = 0; j < used; j++) tables[i * used + j] = own[j < ownUsed ? j : 0];
      }
      NDArray mask = null;
      if (ragged) {
        float[] m = new float[b * max];
        for (int i = 0; i < b; i++) {
          for (int j = (int) pos[i] + 1; j < max; j++) m[i * max + j] = Float.NEGATIVE_INFINITY;
        }
        mask = step.create(m, new Shape(b, 1, 1, max));
      }
      return new DecodeBatch(b, step.create(writeBlocks), step.create(writeOffsets),
          step.create(tables, new Shape(b, used)), max, mask);
    }
  }

  /** Attention when every sequence adds one token: all sequences in one set of batched ops. */
  private NDArray decodeAttention(NDManager scope, int layer, NDArray q, NDArray k, NDArray v, KvCache cache, DecodeBatch d) {
    int heads = cfg.numHeads();
    int kvHeads = cfg.numKvHeads();
    int hd = cfg.headDim();
    long b = d.size();
    cache.writeTokens(layer, d.writeBlocks(), d.writeOffsets(), k, v);
    NDArray keys = cache.keysBatch(scope, layer, d.tables(), d.maxLength()); // [b, kvHeads, len, hd]
    NDArray values = cache.valuesBatch(scope, layer, d.tables(), d.maxLength());
    NDArray qs = q.reshape(b, kvHeads, cfg.groupSize(), hd);
    NDArray scores = qs.matMul(keys.transpose(0, 1, 3, 2)).mul((float) (1.0 / Math.sqrt(hd))); // [b, kvHeads, g, len]
    if (scores.getDataType() != DataType.FLOAT32) scores = scores.toType(DataType.FLOAT32, false);
    if (d.mask() != null) scores = scores.add(d.mask());
    NDArray probs = scores.softmax(-1);
    if (probs.getDataType() != dtype) probs = probs.toType(dtype, false);
    return probs.matMul(values).reshape(b, (long) heads * hd);
  }

  /** The layers on PyTorch (float32, float16, and prefill-sized steps with bfloat16 weights). */
  private NDArray layersInTorch(NDManager step, long[] ids, List<SeqStep> batch, KvCache cache, NDList tables,
                                DecodeBatch decode, Paged[] paged, NDArray[] masks) {
    NDArray x = w.embedding().rows(step, ids); // [total, hidden]
    for (int l = 0; l < cfg.numLayers(); l++) {
      // a layer's temporaries are freed with the layer: ops put their results in the manager of
      // their first operand, so the layer's input is moved into the layer's scope and only its
      // output moves back (a 512-token prefill of the 6B shape held 10 GB of temporaries otherwise)
      try (NDManager scope = step.newSubManager()) {
        x.attach(scope);
        LayerWeights lw = w.layers().get(l);
        NDArray h = Layers.rmsNorm(x, lw.attnNorm(), cfg.normEps());
        NDArray qkv = lw.qkv().multiply(h, lw.qkvBias()); // [total, (heads + 2 kvHeads) * hd]
        NDArray attn = attention(step, scope, l, qkv, batch, cache, tables, decode, paged, masks);
        x = x.add(lw.out().multiply(attn, null));
        h = Layers.rmsNorm(x, lw.ffnNorm(), cfg.normEps());
        NDArray mlp = Layers.swiGlu(lw.gateUp().multiply(h, null), cfg.ffnSize());
        x = x.add(lw.down().multiply(mlp, null));
        x.attach(step);
      }
    }
    return x;
  }

  /**
   * The layers of a step with bfloat16 weights on Java arrays (decode-sized steps, and every step when
   * attention runs on the native kernel): the residual stream, norms, SwiGLU and
   * every product stay in Java arrays. With {@code nativeAttention} so does attention: rotary in
   * Java, new keys and values written straight into the cache tensors' memory, scores and softmax
   * on the native kernel, and no PyTorch op in the whole layer (about thirty small ones otherwise,
   * a sixth of a one-sequence step). Else attention (rotary, KV cache) runs on PyTorch.
   *
   * @return the last layer's output [total, hidden]
   */
  private float[] layersInJava(NDManager step, long[] ids, int[] positions, int maxKv, List<SeqStep> batch, KvCache cache,
                               boolean nativeAttention, NDList tables, DecodeBatch decode, Paged[] paged, NDArray[] masks) {
    int n = ids.length;
    int heads = cfg.numHeads();
    int kvHeads = cfg.numKvHeads();
    int hd = cfg.headDim();
    int[] tableOf = null; // every sequence's block table, one after the other
    int[] starts = null; // where each token's sequence's table starts in tableOf
    RotaryEmbedding.Tables angles = null;
    float[] q = null;
    if (nativeAttention) {
      int entries = 0;
      for (SeqStep s : batch) entries += blocksFor(s.end(), cache);
      tableOf = new int[entries];
      starts = new int[n];
      int t = 0;
      int at = 0;
      for (SeqStep s : batch) {
        int used = blocksFor(s.end(), cache);
        System.arraycopy(s.blocks(), 0, tableOf, at, used);
        for (int i = 0; i < s.tokens().length; i++) starts[t++] = at;
        at += used;
      }
      angles = rope.arrays(positions, maxKv);
      q = new float[n * heads * hd];
    }
    int d = cfg.hiddenSize();
    int ffn = cfg.ffnSize();
    int attnWidth = cfg.numHeads() * cfg.headDim();
    int qkvWidth = (cfg.numHeads() + 2 * cfg.numKvHeads()) * cfg.headDim();
    float[] x = new float[n * d];
    ((Bf16Matrix) w.embedding()).rows(ids, x);
    float[] h = new float[n * d];
    float[] qkv = new float[n * qkvWidth];
    float[] attn = new float[n * attnWidth];
    float[] proj = new float[n * d];
    float[] gateUp = new float[n * 2 * ffn];
    float[] act = new float[n * ffn];
    for (int l = 0; l < cfg.numLayers(); l++) {
      LayerWeights lw = w.layers().get(l);
      JavaVectors v = javaVectors[l];
      RowOps.rmsNorm(x, v.attnNorm(), cfg.normEps(), n, d, h);
      ((HostMatrix) lw.qkv()).multiply(h, n, qkv);
      if (v.qkvBias() != null) RowOps.addRows(qkv, v.qkvBias(), n, qkvWidth);
      if (nativeAttention) {
        rope.applyRows(qkv, n, qkvWidth, heads + kvHeads, angles);
        cache.writeRows(l, tableOf, starts, positions, qkv, qkvWidth, heads * hd, (heads + kvHeads) * hd);
        for (int t = 0; t < n; t++) System.arraycopy(qkv, t * qkvWidth, q, t * attnWidth, attnWidth);
        ByteBuffer[] kv = cache.buffers(l);
        Bf16Matmul.shared().attention(kv[0], kv[1], cache.packedBf16(), kvHeads, cache.blockSize(), hd, tableOf, starts, positions, q, heads,
            (float) (1.0 / Math.sqrt(hd)), attn);
      } else {
        try (NDManager scope = step.newSubManager()) {
          NDArray a = attention(step, scope, l, Bf16Matrix.array(scope, qkv, n, qkvWidth), batch, cache, tables, decode, paged, masks);
          Bf16Matrix.read(a, attn, n * attnWidth);
        }
      }
      ((HostMatrix) lw.out()).multiply(attn, n, proj);
      RowOps.addInPlace(x, proj, n * d);
      RowOps.rmsNorm(x, v.ffnNorm(), cfg.normEps(), n, d, h);
      ((HostMatrix) lw.gateUp()).multiply(h, n, gateUp);
      // 21 of 277 ms of a 16-sequence step on one thread with Math.exp
      Bf16Matmul.shared().forEach(n, 8L * ffn, (r0, r1) -> RowOps.swiGlu(gateUp, r0, r1, ffn, act));
      ((HostMatrix) lw.down()).multiply(act, n, proj);
      RowOps.addInPlace(x, proj, n * d);
    }
    return x;
  }

  /** {@code step} holds what lives for the whole step (masks); {@code scope} this layer's temporaries. */
  private NDArray attention(NDManager step, NDManager scope, int layer, NDArray qkv, List<SeqStep> batch,
                            KvCache cache, NDList tables, DecodeBatch decode, Paged[] paged, NDArray[] masks) {
    int heads = cfg.numHeads();
    int kvHeads = cfg.numKvHeads();
    int hd = cfg.headDim();
    int g = cfg.groupSize();
    long total = qkv.getShape().get(0);
    // queries and keys are rotated together (the tables broadcast over heads): half the small ops
    NDArray qk = rope.apply(qkv.get(":, :{}", (heads + kvHeads) * hd).reshape(total, heads + kvHeads, hd), tables);
    NDArray q = qk.get(":, :{}", heads);
    NDArray k = qk.get(":, {}:", heads);
    NDArray v = qkv.get(":, {}:", (heads + kvHeads) * hd).reshape(total, kvHeads, hd);
    if (decode != null) return decodeAttention(scope, layer, q, k, v, cache, decode);
    float scale = (float) (1.0 / Math.sqrt(hd));
    NDList outs = new NDList(batch.size());
    int row = 0;
    int seqIndex = -1;
    for (SeqStep s : batch) {
      seqIndex++;
      int n = s.tokens().length;
      int kvLen = s.start() + n;
      Paged p = paged[seqIndex];
      cache.writeTokens(layer, p.writeBlocks(), p.writeOffsets(), k.get("{}:{}", row, row + n), v.get("{}:{}", row, row + n));
      NDArray keys = cache.keys(scope, layer, p.table(), kvLen); // [kvHeads, kvLen, hd]
      NDArray values = cache.values(scope, layer, p.table(), kvLen);
      // query heads of one key/value head are adjacent: [kvHeads, g * n, hd], row = j * n + i
      NDArray qs = q.get("{}:{}", row, row + n).transpose(1, 0, 2).reshape(kvHeads, (long) g * n, hd);
      NDArray scores = qs.matMul(keys.transpose(0, 2, 1)).mul(scale); // [kvHeads, g * n, kvLen]
      if (scores.getDataType() != DataType.FLOAT32) scores = scores.toType(DataType.FLOAT32, false);
      if (n > 1) {
        NDArray mask = masks[seqIndex];
        if (mask == null) masks[seqIndex] = mask = causalMask(step, n, s.start(), kvLen);
        scores = scores.reshape(kvHeads, g, n, kvLen).add(mask).reshape(kvHeads, (long) g * n, kvLen);
      }
      NDArray probs = scores.softmax(-1);
      if (probs.getDataType() != dtype) probs = probs.toType(dtype, false);
      NDArray o = probs.matMul(values) // [kvHeads, g * n, hd]
          .reshape(heads, n, hd).transpose(1, 0, 2).reshape(n, (long) heads * hd);
      outs.add(o);
      row += n;
    }
    return outs.size() == 1 ? outs.head() : NDArrays.concat(outs, 0);
  }

  /** Additive mask [n, kvLen]: the token at start + i sees keys 0..start + i. */
  private static NDArray causalMask(NDManager step, int n, int start, int kvLen) {
    float[] m = new float[n * kvLen];
    for (int i = 0; i < n; i++) {
      for (int c = start + i + 1; c < kvLen; c++) m[i * kvLen + c] = Float.NEGATIVE_INFINITY;
    }
    return step.create(m, new Shape(n, kvLen));
  }

  @Override
  public void close() { manager.close(); }
}
