package ai.zhiku.inference.model;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.kernel.CpuFlags;
import ai.zhiku.inference.model.chatglm2.ChatGlm2Model;
import ai.zhiku.inference.model.chatglm3.ChatGlm3Model;
import ai.zhiku.inference.model.internlm2.InternLm2Model;
import ai.zhiku.inference.model.qwen2.Qwen2Model;
import ai.zhiku.inference.weights.CheckpointException;
import ai.zhiku.inference.weights.quantized.StoredQuantization;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The chat families, chosen by {@code architectures} in config.json. */
public final class ModelFamilies {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ModelFamilies.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> ARCHITECTURES = List.of(
      ChatGlm2Model.ARCHITECTURE, "ChatGLMForConditionalGeneration", InternLm2Model.ARCHITECTURE, Qwen2Model.ARCHITECTURE);

  private ModelFamilies() {}

  /** The first architecture config.json names, or null when there is no readable config.json. */
  public static String architecture(Path dir) {
    Path cfg = dir.resolve("config.json");
    if (!Files.isRegularFile(cfg)) return null;
    try {
      JsonNode arch = JSON.readTree(cfg.toFile()).path("architectures");
      return arch.isArray() && !arch.isEmpty() ? arch.get(0).asText() : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** The {@code architectures} values of config.json this engine serves. */
  public static List<String> architectures() {
    return ARCHITECTURES;
  }

  public static boolean isChatModel(Path dir) {
    String arch = architecture(dir);
    return arch != null && ARCHITECTURES.contains(arch);
  }

  /**
   * The precision for a {@code --dtype} value. auto is bfloat16 on a CPU with bfloat16 support
   * (AVX512-BF16 or AMX), float32 on other CPUs, and float16 on GPUs. bfloat16 is CPU-only: it runs
   * on our own kernel, because DJL 0.35.1's PyTorch JNI aborts the process on bfloat16 tensors.
   */
  public static Precision precision(String dtype, Device device) {
    String d = dtype == null ? "auto" : dtype;
    return switch (d) {
      case "auto" -> device.isGpu() ? Precision.FLOAT16 : cpuHasBf16() ? Precision.BFLOAT16 : Precision.FLOAT32;
      case "float32" -> Precision.FLOAT32;
      case "float16" -> Precision.FLOAT16;
      case "bfloat16" -> {
        if (device.isGpu()) {
          throw ZhikuException.invalid("dtype", "bfloat16 is available on the CPU only (DJL 0.35.1's PyTorch JNI aborts "
              + "on bfloat16 tensors); use float16 on GPUs");
        }
        yield Precision.BFLOAT16;
      }
      default -> throw ZhikuException.invalid("dtype", "dtype must be auto, float32, bfloat16 or float16, got '" + d + "'");
    };
  }

  /** Whether this CPU computes in bfloat16 natively. */
  static boolean cpuHasBf16() {
    return CpuFlags.has("avx512_bf16") || CpuFlags.has("amx_bf16");
  }

  /** Loads the chat model in {@code dir} onto {@code device}. */
  public static ChatModel load(Path dir, Device device, Precision precision) {
    return load(dir, device, WeightFormat.of(precision));
  }

  /** Loads the chat model in {@code dir} onto {@code device}, its weights held as {@code format} says. */
  public static ChatModel load(Path dir, Device device, WeightFormat asked) {
    WeightFormat format = asStored(dir, device, asked);
    ChatModel model = loadWith(dir, device, format, true, (arch, m) -> switch (family(arch, dir)) {
      case "chatglm3" -> ChatGlm3Model.load(dir, JSON, m, format);
      case "chatglm2" -> ChatGlm2Model.load(dir, JSON, m, format);
      case "qwen2" -> Qwen2Model.load(dir, JSON, m, format);
      default -> InternLm2Model.load(dir, JSON, m, format);
    });
    ModelConfig c = model.model().config();
    log.info("loaded {} ({} layers, hidden {}, vocab {}) as {} on {}", model.family(), c.numLayers(),
        c.hiddenSize(), c.vocabSize(), format.describe(), device);
    return model;
  }

  /** The decoder of the chat model in {@code dir}, without tokenizer or template (benchmarks). */
  public static DecoderModel loadDecoder(Path dir, Device device, Precision precision) {
    return loadDecoder(dir, device, WeightFormat.of(precision));
  }

  /** The decoder of the chat model in {@code dir} with its weights held as {@code format} says. */
  public static DecoderModel loadDecoder(Path dir, Device device, WeightFormat asked) {
    WeightFormat format = asStored(dir, device, asked);
    return loadWith(dir, device, format, false, (arch, m) -> switch (family(arch, dir)) {
      case "chatglm2", "chatglm3" -> ChatGlm2Model.decoder(dir, JSON, m, format);
      case "qwen2" -> Qwen2Model.decoder(dir, JSON, m, format);
      default -> InternLm2Model.decoder(dir, JSON, m, format);
    });
  }

  /**
   * The format to load {@code dir} in: {@code asked}, unless the checkpoint was published quantized
   * (GPTQ, AWQ, ChatGLM int4/int8), whose matrices are served as stored (CPU only; not quantized again).
   */
  static WeightFormat asStored(Path dir, Device device, WeightFormat asked) {
    StoredQuantization stored = StoredQuantization.detect(dir);
    if (stored == null) return asked;
    if (asked.quantization() != null) {
      throw ZhikuException.invalid("quantize", "the checkpoint is already quantized (" + stored.describe() + ", in " + stored.source()
          + "): serve it without --quantize");
    }
    if (device.isGpu()) {
      throw ZhikuException.invalid("device", "quantized checkpoints (" + stored.describe() + ") are served on the CPU only for now");
    }
    if (asked.precision() != Precision.BFLOAT16) {
      log.info("{} is quantized ({}): its other weights compute in bfloat16, not {}", dir.getFileName(), stored.describe(),
          asked.precision().flag());
    }
    return WeightFormat.stored(stored);
  }

  /** The family of a checkpoint with a supported architecture: ChatGLM2 and ChatGLM3 share theirs. */
  static String family(String arch, Path dir) {
    if (isGlm(arch)) return ChatGlm3Model.isChatGlm3(dir, JSON) ? "chatglm3" : "chatglm2";
    if (arch.equals(Qwen2Model.ARCHITECTURE)) return "qwen2";
    return "internlm2";
  }

  private static boolean isGlm(String arch) {
    return arch.equals(ChatGlm2Model.ARCHITECTURE) || arch.equals("ChatGLMForConditionalGeneration");
  }

  @FunctionalInterface
  private interface Loader<T> {
    T load(String architecture, NDManager manager) throws IOException;
  }

  private static <T> T loadWith(Path dir, Device device, WeightFormat format, boolean timed, Loader<T> loader) {
    if (format.quantization() != null && device.isGpu()) {
      throw ZhikuException.invalid("quantize", "--quantize runs on the CPU only for now; on CUDA serve float16");
    }
    String arch = architecture(dir);
    if (arch == null) throw new CheckpointException("config.json is missing or names no architectures");
    if (!ARCHITECTURES.contains(arch)) {
      throw new CheckpointException("config.json: architecture " + arch + " is not supported; supported: " + ARCHITECTURES);
    }
    long start = System.nanoTime();
    NDManager manager = NDManager.newBaseManager(device, Engines.PYTORCH);
    try {
      T model = loader.load(arch, manager);
      manager.cap(); // weights are complete: any stray attachment to this manager now throws
      if (timed) log.info("weights of {} read in {} ms", dir.getFileName(), (System.nanoTime() - start) / 1_000_000);
      return model;
    } catch (IOException e) {
      manager.close();
      throw new CheckpointException("cannot read config.json: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }
}
