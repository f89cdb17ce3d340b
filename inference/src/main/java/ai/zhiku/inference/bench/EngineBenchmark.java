package ai.zhiku.inference.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.kernel.Bf16;
import ai.zhiku.inference.kernel.Bf16Matmul;
import ai.zhiku.inference.model.DecoderModel;
import ai.zhiku.inference.model.DecoderModel.SeqStep;
import ai.zhiku.inference.model.KvCache;
import ai.zhiku.inference.model.LayerWeights;
import ai.zhiku.inference.model.ModelConfig;
import ai.zhiku.inference.model.ModelFamilies;
import ai.zhiku.inference.model.ModelWeights;
import ai.zhiku.inference.kernel.PackedWeights;
import ai.zhiku.inference.kernel.QuantizedProducts;
import ai.zhiku.inference.model.Precision;
import ai.zhiku.inference.model.Quantization;
import ai.zhiku.inference.model.WeightFormat;
import ai.zhiku.inference.model.layers.Bf16Matrix;
import ai.zhiku.inference.model.layers.HostMatrix;
import ai.zhiku.inference.model.layers.Matrix;
import ai.zhiku.inference.model.layers.QuantizedMatrix;
import ai.zhiku.inference.model.layers.TorchMatrix;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Speed of the decoder on random weights with a real model's shape (not a test).
 *
 * <pre>
 * EngineBenchmark [--shape internlm2-1.8b|chatglm2-6b|chatglm3-6b|qwen2.5-1.5b|qwen2.5-7b] [--dtype float32|float16|bfloat16]
 *                 [--layers N] [--prompt 512] [--steps 16] [--seqs 1,8] [--context 16] [--threads 2] [--device cpu|cuda]
 *                 [--model-path DIR] [--quantize int8|int4] [--quantize-group-size 128]
 * EngineBenchmark --write-checkpoint DIR [--shape ...]
 * </pre>
 * Reports weight build (or, with --model-path, load) time, prefill tokens/s for one prompt,
 * decode tokens/s (aggregate) for each batch size with every sequence at --context tokens (one
 * prefill of that many tokens whose blocks all sequences share, as the prefix cache shares a common
 * prompt; a multiple of 16), and peak resident memory (VmHWM), then the bytes of weights one
 * decode step reads, the memory's read speed measured in the same run and the bandwidth-bound
 * ceiling of one sequence. --quantize packs the projections and head as {@code --quantize} does.
 * --write-checkpoint writes a random bfloat16 checkpoint of the shape (see {@link CheckpointWriter})
 * for --model-path to load, so load time and memory are measured on real files.
 */
public final class EngineBenchmark {
  private EngineBenchmark() {}

  static ModelConfig shape(String name, int layers) {
    return switch (name) {
      case "internlm2-1.8b" -> new ModelConfig("internlm2", 2048, layers > 0 ? layers : 24, 16, 8, 128, 8192, 92544,
          32768, 1e-5f, false, new ModelConfig.Rope.RotateHalf(1_000_000, "none", 1, 32768));
      // ChatGLM3-6B has ChatGLM2-6B's architecture and sizes
      case "chatglm2-6b", "chatglm3-6b" -> new ModelConfig("chatglm2", 4096, layers > 0 ? layers : 28, 32, 2, 128, 13696, 65024,
          32768, 1e-5f, true, new ModelConfig.Rope.Interleaved(64, 10000));
      // Qwen2.5-1.5B/7B-Instruct's config.json: GQA with 2 / 4 key-value heads, q/k/v bias, rope_theta 1e6
      case "qwen2.5-1.5b" -> new ModelConfig("qwen2", 1536, layers > 0 ? layers : 28, 12, 2, 128, 8960, 151936,
          32768, 1e-6f, true, new ModelConfig.Rope.RotateHalf(1_000_000, "none", 1, 32768));
      case "qwen2.5-7b" -> new ModelConfig("qwen2", 3584, layers > 0 ? layers : 28, 28, 4, 128, 18944, 152064,
          32768, 1e-6f, true, new ModelConfig.Rope.RotateHalf(1_000_000, "none", 1, 32768));
      default -> throw new IllegalArgumentException("unknown shape " + name
          + " (internlm2-1.8b, chatglm2-6b, chatglm3-6b, qwen2.5-1.5b, qwen2.5-7b)");
    };
  }

  public static void main(String[] args) {
    String shapeName = "internlm2-1.8b";
    String dtypeName = "float32";
    int layers = 0;
    int prompt = 512;
    int steps = 16;
    int context = 16;
    int threads = 2;
    String deviceName = "cpu";
    List<Integer> seqs = List.of(1, 8);
    Path modelPath = null;
    Path writeTo = null;
    String quantize = null;
    Integer group = null;
    for (int i = 0; i + 1 < args.length; i += 2) {
      String v = args[i + 1];
      switch (args[i]) {
        case "--shape" -> shapeName = v;
        case "--dtype" -> dtypeName = v;
        case "--layers" -> layers = Integer.parseInt(v);
        case "--prompt" -> prompt = Integer.parseInt(v);
        case "--steps" -> steps = Integer.parseInt(v);
        case "--context" -> context = Math.max(16, Integer.parseInt(v) / 16 * 16);
        case "--threads" -> threads = Integer.parseInt(v);
        case "--device" -> deviceName = v;
        case "--seqs" -> seqs = java.util.Arrays.stream(v.split(",")).map(Integer::parseInt).toList();
        case "--model-path" -> modelPath = Path.of(v);
        case "--write-checkpoint" -> writeTo = Path.of(v);
        case "--quantize" -> quantize = v;
        case "--quantize-group-size" -> group = Integer.parseInt(v);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (writeTo != null) {
      long w0 = System.nanoTime();
      try {
        CheckpointWriter.write(writeTo, shape(shapeName, layers));
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      System.out.printf("wrote %s checkpoint to %s in %.1f s%n", shapeName, writeTo, (System.nanoTime() - w0) / 1e9);
      return;
    }
    Engines.configureThreads(threads, 1);
    Device device = Engines.device(deviceName);
    Quantization quantization = Quantization.parse(quantize, group);
    WeightFormat format = WeightFormat.of(ModelFamilies.precision(dtypeName, device), quantization);
    Precision precision = format.precision();
    int maxSeqs = seqs.stream().mapToInt(Integer::intValue).max().orElse(1);
    String kernel = precision == Precision.BFLOAT16 ? ", " + Bf16Matmul.kernel() + " kernel" : "";
    if (quantization != null) kernel += ", quantized products on the " + QuantizedProducts.kernel() + " kernel";
    long t0 = System.nanoTime();
    DecoderModel loaded;
    if (modelPath != null) {
      loaded = ModelFamilies.loadDecoder(modelPath, device, format);
      System.out.printf("checkpoint %s, weights %s, %d threads%s%n", modelPath, format.describe(), threads, kernel);
      System.out.printf("loaded from disk in %.1f s, peak RSS so far %s%n", (System.nanoTime() - t0) / 1e9, peakRss());
    } else {
      ModelConfig shape = shape(shapeName, layers);
      System.out.printf("shape %s (%d layers), weights %s, %d threads%s%n", shapeName, shape.numLayers(), format.describe(),
          threads, kernel);
      NDManager manager = NDManager.newBaseManager(device, Engines.PYTORCH);
      loaded = new DecoderModel(shape, randomWeights(manager, shape, format), manager, precision);
      System.out.printf("weights built in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }
    ModelConfig cfg = loaded.config();
    int bs = KvCache.DEFAULT_BLOCK_SIZE;
    int promptBlocks = (prompt + bs - 1) / bs;
    int shared = context / bs;
    int own = (steps + 2 + bs - 1) / bs;
    try (DecoderModel model = loaded;
         KvCache cache = model.newCache(promptBlocks + shared + maxSeqs * own)) {
      int[] promptTable = new int[promptBlocks];
      for (int j = 0; j < promptBlocks; j++) promptTable[j] = j;
      // sequence s: the shared context's blocks, then blocks of its own, s + maxSeqs apart (scattered, as a
      // paged cache hands them out)
      int[][] tables = new int[maxSeqs][shared + own];
      for (int s = 0; s < maxSeqs; s++) {
        for (int j = 0; j < shared; j++) tables[s][j] = promptBlocks + j;
        for (int j = 0; j < own; j++) tables[s][shared + j] = promptBlocks + shared + j * maxSeqs + s;
      }
      Random rnd = new Random(1);
      // warm-up
      model.forward(List.of(new SeqStep(promptTable, randomIds(rnd, 8, cfg), 0)), cache, false);
      long p0 = System.nanoTime();
      model.forward(List.of(new SeqStep(promptTable, randomIds(rnd, prompt, cfg), 0)), cache, false);
      double prefillS = (System.nanoTime() - p0) / 1e9;
      System.out.printf("prefill %d tokens: %.2f s, %.1f tokens/s%n", prompt, prefillS, prompt / prefillS);
      long c0 = System.nanoTime();
      for (int at = 0; at < context; at += 512) {
        model.forward(List.of(new SeqStep(tables[0], randomIds(rnd, Math.min(512, context - at), cfg), at)), cache, false);
      }
      if (context > 16) System.out.printf("context of %d tokens prefilled in %.1f s%n", context, (System.nanoTime() - c0) / 1e9);
      for (int n : seqs) {
        List<SeqStep> batch = new ArrayList<>();
        int start = context;
        for (int s = 0; s < n; s++) batch.add(new SeqStep(tables[s], randomIds(rnd, 1, cfg), start));
        model.forward(batch, cache, false); // warm-up step
        long d0 = System.nanoTime();
        for (int i = 0; i < steps; i++) model.forward(next(batch, rnd, cfg, start + 1 + i), cache, false);
        double s = (System.nanoTime() - d0) / 1e9;
        System.out.printf("decode %d seq at %d tokens: %.1f ms/step, %.2f tokens/s aggregate%n", n, context, 1000 * s / steps,
            n * steps / s);
      }
    }
    System.out.println("peak RSS " + peakRss());
    // the ceiling for one sequence: every weight but the embedding is read once per decode step
    long perStep = bytesPerStep(loaded.weights());
    if (!device.equals(Device.cpu())) {
      System.out.printf("weights read per decode step %.3f GB%n", perStep / 1e9);
      return;
    }
    double gbs = readSpeed();
    System.out.printf("weights read per decode step %.3f GB; memory read speed now (%s) %.1f GB/s; "
        + "bandwidth-bound ceiling for one sequence %.1f tokens/s%n", perStep / 1e9, SPEED_PROBE, gbs, gbs * 1e9 / perStep);
  }

  /** Bytes of the weights one decode step reads: every projection and the head, not the embedding. */
  static long bytesPerStep(ModelWeights w) {
    long total = bytes(w.lmHead());
    for (LayerWeights l : w.layers()) total += bytes(l.qkv()) + bytes(l.out()) + bytes(l.gateUp()) + bytes(l.down());
    return total;
  }

  private static long bytes(Matrix m) {
    if (m instanceof HostMatrix h) return h.bytes();
    TorchMatrix t = (TorchMatrix) m;
    return t.rows() * t.cols() * t.w().getDataType().getNumOfBytes();
  }

  private static final String SPEED_PROBE = QuantizedProducts.nativeKernel()
      ? "int8 products over 1 GiB on the native kernel" : "bfloat16 products over 1 GiB";

  /**
   * GB/s of one-row products over a 1 GiB matrix of 2048 columns (most of a model's weights): how
   * fast this machine streams weights right now, through whichever of our kernels streams fastest
   * here (the VNNI int8 one where the CPU has it: on CPUs without AVX512-BF16 the Java bfloat16
   * kernel is compute-bound). Machines of this kind swing widely (42-70 GB/s in ANCHORS.md, 28-36
   * here), so the ceiling is only comparable within one run.
   */
  private static double readSpeed() {
    int in = 2048;
    float[] x = new float[in];
    double best = 0;
    if (QuantizedProducts.nativeKernel()) {
      int out = (1 << 30) / in;
      PackedWeights p = PackedWeights.allocate(8, out, in, 128);
      float[] y = new float[out];
      for (int i = 0; i < 8; i++) {
        long t0 = System.nanoTime();
        QuantizedProducts.multiply(p, x, 1, y);
        best = Math.max(best, (double) p.bytes() / (System.nanoTime() - t0));
      }
      return best;
    }
    int out = (1 << 29) / in;
    short[] w = new short[out * in];
    java.util.Arrays.fill(w, Bf16.fromFloat(0.01f));
    float[] y = new float[out];
    for (int i = 0; i < 8; i++) {
      long t0 = System.nanoTime();
      Bf16Matmul.shared().multiply(w, out, in, x, 1, y);
      best = Math.max(best, 2.0 * w.length / (System.nanoTime() - t0));
    }
    return best;
  }

  private static List<SeqStep> next(List<SeqStep> batch, Random rnd, ModelConfig cfg, int pos) {
    List<SeqStep> out = new ArrayList<>();
    for (SeqStep s : batch) out.add(new SeqStep(s.blocks(), randomIds(rnd, 1, cfg), pos));
    return out;
  }

  private static int[] randomIds(Random rnd, int n, ModelConfig cfg) {
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) ids[i] = rnd.nextInt(cfg.vocabSize());
    return ids;
  }

  private static ModelWeights randomWeights(NDManager m, ModelConfig c, WeightFormat format) {
    Precision precision = format.precision();
    DataType dtype = precision.activations();
    int qkvRows = (c.numHeads() + 2 * c.numKvHeads()) * c.headDim();
    int attnCols = c.numHeads() * c.headDim();
    Quantization q = format.quantization();
    List<LayerWeights> layers = new ArrayList<>();
    for (int l = 0; l < c.numLayers(); l++) {
      layers.add(new LayerWeights(
          ones(m, c.hiddenSize(), dtype),
          random(m, qkvRows, c.hiddenSize(), precision, q),
          c.qkvBias() ? m.randomNormal(0f, 0.02f, new Shape(qkvRows), DataType.FLOAT32).toType(dtype, false) : null,
          random(m, c.hiddenSize(), attnCols, precision, q),
          ones(m, c.hiddenSize(), dtype),
          random(m, 2 * c.ffnSize(), c.hiddenSize(), precision, q),
          random(m, c.hiddenSize(), c.ffnSize(), precision, q)));
    }
    return new ModelWeights(random(m, c.vocabSize(), c.hiddenSize(), precision, null), layers,
        ones(m, c.hiddenSize(), dtype), random(m, c.vocabSize(), c.hiddenSize(), precision, q));
  }

  private static Matrix random(NDManager m, int rows, int cols, Precision precision, Quantization q) {
    int group = q == null ? 0 : PackedWeights.groupFor(cols, q.groupSize());
    if (group > 0) {
      PackedWeights p = PackedWeights.allocate(q.bits(), rows, cols, group);
      int blocks = (rows + PackedWeights.BLOCK - 1) / PackedWeights.BLOCK;
      java.util.stream.IntStream.range(0, blocks).parallel().forEach(b -> {
        int count = Math.min(PackedWeights.BLOCK, rows - b * PackedWeights.BLOCK);
        RandomBf16 random = new RandomBf16(b);
        float[] values = new float[count * cols];
        for (int i = 0; i < values.length; i++) values[i] = Bf16.toFloat(random.next());
        p.pack(b, values, count);
      });
      return new QuantizedMatrix(p);
    }
    if (precision == Precision.BFLOAT16) {
      short[] data = new short[Math.multiplyExact(rows, cols)];
      java.util.stream.IntStream.range(0, rows).parallel().forEach(r -> {
        RandomBf16 random = new RandomBf16(r);
        for (int i = r * cols, end = i + cols; i < end; i++) data[i] = random.next();
      });
      return new Bf16Matrix(data, rows, cols);
    }
    NDArray a = m.randomNormal(0f, 0.02f, new Shape(rows, cols), DataType.FLOAT32);
    if (precision.activations() == DataType.FLOAT32) return new TorchMatrix(a);
    NDArray b = a.toType(precision.activations(), false);
    a.close();
    return new TorchMatrix(b);
  }

  private static NDArray ones(NDManager m, int n, DataType dtype) {
    return m.ones(new Shape(n), dtype);
  }

  static String peakRss() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) return line.substring(6).trim();
      }
    } catch (IOException e) {
      return "unknown (" + e.getMessage() + ")";
    }
    return "unknown";
  }
}
