package ai.zhiku.inference.model;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.model.chatglm2.ChatGlm2Model;
import ai.zhiku.inference.model.internlm2.InternLm2Model;
import ai.zhiku.inference.weights.CheckpointException;
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
      ChatGlm2Model.ARCHITECTURE, "ChatGLMForConditionalGeneration", InternLm2Model.ARCHITECTURE);

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

  public static boolean isChatModel(Path dir) {
    String arch = architecture(dir);
    return arch != null && ARCHITECTURES.contains(arch);
  }

  /**
   * The compute type for a {@code --dtype} value: auto is float32 on CPU and float16 on GPUs.
   * bfloat16 is refused: DJL 0.35.1's PyTorch JNI aborts the process on any bfloat16 array.
   */
  public static DataType computeType(String dtype, Device device) {
    String d = dtype == null ? "auto" : dtype;
    return switch (d) {
      case "auto" -> device.isGpu() ? DataType.FLOAT16 : DataType.FLOAT32;
      case "float32" -> DataType.FLOAT32;
      case "float16" -> DataType.FLOAT16;
      case "bfloat16" -> throw ZhikuException.invalid("dtype", "bfloat16 compute is not available with DJL 0.35.1's "
          + "PyTorch JNI (it aborts on bfloat16 arrays); use float32 or float16. bfloat16 checkpoints load fine.");
      default -> throw ZhikuException.invalid("dtype", "dtype must be auto, float32, bfloat16 or float16, got '" + d + "'");
    };
  }

  /** Loads the chat model in {@code dir} onto {@code device}. */
  public static ChatModel load(Path dir, Device device, DataType dtype) {
    String arch = architecture(dir);
    if (arch == null) throw new CheckpointException("config.json is missing or names no architectures");
    long start = System.nanoTime();
    NDManager manager = NDManager.newBaseManager(device, Engines.PYTORCH);
    try {
      ChatModel model;
      if (arch.equals(ChatGlm2Model.ARCHITECTURE) || arch.equals("ChatGLMForConditionalGeneration")) {
        model = ChatGlm2Model.load(dir, JSON, manager, dtype);
      } else if (arch.equals(InternLm2Model.ARCHITECTURE)) {
        model = InternLm2Model.load(dir, JSON, manager, dtype);
      } else {
        throw new CheckpointException("config.json: architecture " + arch + " is not supported; supported: " + ARCHITECTURES);
      }
      manager.cap(); // weights are complete: any stray attachment to this manager now throws
      ModelConfig c = model.model().config();
      log.info("loaded {} ({} layers, hidden {}, vocab {}) as {} on {} in {} ms", model.family(), c.numLayers(),
          c.hiddenSize(), c.vocabSize(), dtype, device, (System.nanoTime() - start) / 1_000_000);
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
