package ai.zhiku.launcher;

import ch.qos.logback.classic.Level;
import org.slf4j.LoggerFactory;

/**
 * DJL probes the CUDA driver when it first looks for devices, and warns on a host without one
 * ("CUDA driver version is insufficient"), even for a CPU model, and DJL's ONNX Runtime engine warns
 * that its CPU build has no CUDA provider. Both are silenced unless a CUDA device was asked for,
 * where they are the lines that explain a failure.
 */
final class Quiet {
  private Quiet() {}

  static void forDevice(String device) {
    boolean cuda = device != null && (device.startsWith("cuda") || device.startsWith("gpu"));
    for (String name : new String[] {"ai.djl.util.cuda", "ai.djl.onnxruntime.engine.OrtEngine"}) {
      if (LoggerFactory.getLogger(name) instanceof ch.qos.logback.classic.Logger l) {
        l.setLevel(cuda ? Level.WARN : Level.ERROR);
      }
    }
  }
}
