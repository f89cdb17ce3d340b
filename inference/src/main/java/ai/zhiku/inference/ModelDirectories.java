package ai.zhiku.inference;

import ai.zhiku.common.StartupException;
import ai.zhiku.inference.model.ModelFamilies;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Checks of a {@code --model-path} before anything is loaded, each failing with one sentence that
 * names the directory or file, the field, and what to do.
 */
public final class ModelDirectories {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String WANTED = "give a Hugging Face model directory (config.json and its weights) or an ONNX export (model.onnx)";

  private ModelDirectories() {}

  /** The directory exists, is readable and has a config.json that parses (or a model.onnx). */
  public static void requireModelDirectory(Path dir) {
    if (!Files.exists(dir)) {
      throw new StartupException("--model-path " + dir + " does not exist; " + WANTED);
    }
    if (!Files.isDirectory(dir)) {
      throw new StartupException("--model-path " + dir + " is a file, not a directory; " + WANTED);
    }
    if (!Files.isReadable(dir) || !Files.isExecutable(dir)) {
      throw new StartupException("--model-path " + dir + " cannot be read (permission denied); make it readable by this user");
    }
    Path config = dir.resolve("config.json");
    if (!Files.exists(config)) {
      if (Files.exists(dir.resolve("model.onnx")) || Files.exists(dir.resolve("onnx").resolve("model.onnx"))) {
        return;
      }
      throw new StartupException("--model-path " + dir + " has no config.json; " + WANTED);
    }
    if (!Files.isReadable(config)) {
      throw new StartupException(config + " cannot be read (permission denied); make it readable by this user");
    }
    try {
      JSON.readTree(config.toFile());
    } catch (JsonProcessingException e) {
      throw new StartupException(config + " is not valid JSON (line " + e.getLocation().getLineNr() + ", column "
          + e.getLocation().getColumnNr() + ": " + e.getOriginalMessage() + "); fix it or download the model again", e);
    } catch (IOException e) {
      throw new StartupException(config + " cannot be read: " + e.getMessage(), e);
    }
  }

  /** As {@link #requireModelDirectory}, and its config.json names a chat architecture this engine serves. */
  public static void requireChatModel(Path dir) {
    requireModelDirectory(dir);
    if (!ModelFamilies.isChatModel(dir)) {
      throw unsupported(dir, "chat architectures: " + String.join(", ", ModelFamilies.architectures()));
    }
  }

  /** The sentence for a config.json whose architecture is not served; {@code supported} lists what is. */
  public static StartupException unsupported(Path dir, String supported) {
    Path config = dir.resolve("config.json");
    JsonNode root;
    try {
      root = JSON.readTree(config.toFile());
    } catch (IOException e) {
      return new StartupException(config + " cannot be read: " + e.getMessage(), e);
    }
    JsonNode arch = root.path("architectures");
    String modelType = root.path("model_type").asText("");
    if (!arch.isArray() || arch.isEmpty()) {
      return new StartupException(config + " has no \"architectures\"" + (modelType.isEmpty() ? "" : " (model_type " + modelType + ")")
          + "; Zhiku chooses the model family by it; supported " + supported);
    }
    return new StartupException(config + ": architecture " + arch.get(0).asText() + " is not supported; supported " + supported);
  }
}
