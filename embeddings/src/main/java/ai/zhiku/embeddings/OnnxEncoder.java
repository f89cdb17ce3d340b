package ai.zhiku.embeddings;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.io.InputStream;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An ONNX export of a BERT-family encoder on DJL's ONNX Runtime engine. Inputs are fed by name
 * ({@code input_ids}, {@code attention_mask}, {@code token_type_ids} when the graph has them); the
 * output used is {@code last_hidden_state}, or the first 3-D output of graphs that name it
 * differently. Pooling happens in Java on the copied hidden states.
 */
final class OnnxEncoder implements Encoder {

  private static final Logger log = LoggerFactory.getLogger(OnnxEncoder.class);

  private final Model model;
  private final Block block;
  private final List<String> inputNames;
  private final int hiddenSize;

  private final OrtSession.SessionOptions options;

  private OnnxEncoder(Model model, OrtSession.SessionOptions options) {
    this.model = model;
    this.options = options;
    this.block = model.getBlock();
    PairList<String, Shape> described = block.describeInput();
    this.inputNames = new ArrayList<>(described.keys());
    for (String name : inputNames) {
      if (!name.equals("input_ids") && !name.equals("attention_mask") && !name.equals("token_type_ids")) {
        throw new IllegalArgumentException(
            "unsupported ONNX input '" + name + "': expected input_ids, attention_mask, token_type_ids");
      }
    }
    if (!inputNames.contains("input_ids")) {
      throw new IllegalArgumentException("the ONNX graph has no input_ids input");
    }
    float[] probe = lastHiddenState(new long[] {0, 0});
    this.hiddenSize = probe.length / 2;
  }

  /** Loads an ONNX graph from a stream (the bundled model lives inside a jar). */
  static OnnxEncoder load(InputStream graph, String name, Device device) throws IOException {
    DjlSetup.ensureOffline();
    Model model = Model.newInstance(name, usable(device, name), "OnnxRuntime");
    OrtSession.SessionOptions options = sessionOptions();
    try {
      model.load(graph, optionMap(options));
      return new OnnxEncoder(model, options);
    } catch (MalformedModelException | RuntimeException e) {
      model.close();
      options.close();
      throw new IOException("cannot load the ONNX model " + name + ": " + e.getMessage(), e);
    }
  }

  /** Loads {@code file} (an .onnx file). */
  static OnnxEncoder load(Path file, Device device) throws IOException {
    DjlSetup.ensureOffline();
    String name = file.getFileName().toString().replaceFirst("\\.onnx$", "");
    Model model = Model.newInstance(name, usable(device, name), "OnnxRuntime");
    OrtSession.SessionOptions options = sessionOptions();
    try {
      model.load(file, name, optionMap(options));
      return new OnnxEncoder(model, options);
    } catch (MalformedModelException | RuntimeException e) {
      model.close();
      options.close();
      throw new IOException("cannot load the ONNX model " + file.getFileName() + ": " + e.getMessage(), e);
    }
  }

  /**
   * The bundled ONNX Runtime is the CPU build: asked for a GPU without a CUDA provider, the model
   * runs on the CPU (a small encoder serves fine there) and says so once.
   */
  private static Device usable(Device device, String name) {
    if (device.isGpu() && !OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
      log.warn("ONNX Runtime has no CUDA provider in this build; {} runs on the CPU", name);
      return Device.cpu();
    }
    return device;
  }

  private static OrtSession.SessionOptions sessionOptions() throws IOException {
    // Intra-op threads do not spin between operators: the tokenizer thread and the callers need
    // the same cores.
    OrtSession.SessionOptions options = new OrtSession.SessionOptions();
    try {
      options.addConfigEntry("session.intra_op.allow_spinning", "0");
      options.addConfigEntry("session.inter_op.allow_spinning", "0");
      return options;
    } catch (OrtException e) {
      options.close();
      throw new IOException("cannot configure the ONNX Runtime session", e);
    }
  }

  private static Map<String, Object> optionMap(OrtSession.SessionOptions options) {
    // One inference thread calls the session; its intra-op threads use the cores, never more.
    return Map.of(
        "sessionOptions", options,
        "interOpNumThreads", "1",
        "intraOpNumThreads", Integer.toString(DjlSetup.cores()));
  }

  @Override
  public int hiddenSize() {
    return hiddenSize;
  }

  @Override
  public float[][] encode(long[][] rows, SentencePooling pooling) {
    int seq = Encoder.longest(rows);
    float[] hidden = run(rows, seq);
    int width = hidden.length / (rows.length * seq);
    float[][] out = new float[rows.length][];
    for (int r = 0; r < rows.length; r++) {
      out[r] = pooling.pool(hidden, r * seq * width, rows[r].length, width);
    }
    return out;
  }

  @Override
  public float[] lastHiddenState(long[] ids) {
    return run(new long[][] {ids}, ids.length);
  }

  /** last_hidden_state [rows, seq, hidden], flat. */
  private float[] run(long[][] rows, int seq) {
    long[][] packed = Encoder.pad(rows, seq);
    Shape shape = new Shape(rows.length, seq);
    try (NDManager call = model.getNDManager().newSubManager()) {
      NDList inputs = new NDList();
      for (String name : inputNames) {
        long[] data =
            switch (name) {
              case "input_ids" -> packed[0];
              case "attention_mask" -> packed[1];
              default -> new long[packed[0].length]; // token_type_ids: all 0
            };
        NDArray array = call.create(LongBuffer.wrap(data), shape);
        array.setName(name);
        inputs.add(array);
      }
      NDList outputs = block.forward(new ParameterStore(call, false), inputs, false);
      NDArray hidden = pick(outputs);
      return hidden.toFloatArray();
    }
  }

  private static NDArray pick(NDList outputs) {
    NDArray named = outputs.get("last_hidden_state");
    if (named != null) {
      return named;
    }
    for (NDArray array : outputs) {
      if (array.getShape().dimension() == 3) {
        return array;
      }
    }
    throw new IllegalStateException("the ONNX graph has no 3-D output (last_hidden_state)");
  }

  @Override
  public int residentArrays() {
    return model.getNDManager().getManagedArrays().size();
  }

  @Override
  public void close() {
    model.close();
    options.close();
  }
}
