package ai.zhiku.embeddings;

import ai.djl.Device;
import java.io.IOException;
import java.nio.file.Path;

/** Hugging Face BERT-family checkpoints on DJL PyTorch. */
final class HfCheckpoints {

  private HfCheckpoints() {}

  static Encoder openBert(Path dir, Device device) throws IOException {
    return BertEncoder.load(dir, device);
  }
}
