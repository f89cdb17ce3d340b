package ai.zhiku.inference.engine;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.zhiku.common.ZhikuException;

/** The PyTorch engine and device parsing, in one place so nothing falls back to DJL defaults. */
public final class Engines {
  public static final String PYTORCH = "PyTorch";

  private Engines() {}

  /**
   * Caps PyTorch's thread pools before the engine is first touched (DJL reads these once). Does
   * nothing for a property already set, so a launcher's choice wins.
   */
  public static void configureThreads(int computeThreads, int interopThreads) {
    if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
      System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(computeThreads));
    }
    if (System.getProperty("ai.djl.pytorch.num_interop_threads") == null) {
      System.setProperty("ai.djl.pytorch.num_interop_threads", Integer.toString(interopThreads));
    }
    if (System.getProperty("ai.djl.offline") == null) System.setProperty("ai.djl.offline", "true");
  }

  /** The PyTorch engine, with threads defaulted to the machine's cores and one interop thread. */
  public static Engine pytorch() {
    configureThreads(Runtime.getRuntime().availableProcessors(), 1);
    return Engine.getEngine(PYTORCH);
  }

  public static Device cpu() {
    pytorch();
    return Device.cpu();
  }

  /** Parses {@code cpu}, {@code cuda} or {@code cuda:N}. */
  public static Device device(String spec) {
    pytorch();
    if (spec == null || spec.isBlank() || spec.equals("cpu")) return Device.cpu();
    int index;
    if (spec.equals("cuda") || spec.equals("gpu")) {
      index = 0;
    } else if (spec.startsWith("cuda:") && spec.substring(5).matches("\\d{1,3}")) {
      index = Integer.parseInt(spec.substring(5));
    } else {
      throw ZhikuException.invalid("device", "device must be cpu, cuda or cuda:N, got '" + spec + "'");
    }
    int gpus = pytorch().getGpuCount();
    if (index >= gpus) {
      throw ZhikuException.invalid("device", "device " + spec + " is not available: the PyTorch engine sees " + gpus
          + " CUDA device(s); a CPU build of the natives sees none");
    }
    return Device.gpu(index);
  }
}
