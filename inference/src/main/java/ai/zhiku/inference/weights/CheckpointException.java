package ai.zhiku.inference.weights;

/**
 * A model directory that cannot be loaded: a missing or truncated file, an unknown format or
 * dtype, an unsupported architecture. The message names the file (relative to the model
 * directory), never a full machine path.
 */
public class CheckpointException extends RuntimeException {
  public CheckpointException(String message) {
    super(message);
  }

  public CheckpointException(String message, Throwable cause) {
    super(message, cause);
  }
}
