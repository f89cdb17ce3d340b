package ai.zhiku.launcher;

import ch.qos.logback.classic.Level;
import org.slf4j.LoggerFactory;

/**
 * DJL probes the CUDA driver when it first looks for devices, and warns on a host without one
 * ("CUDA driver version is insufficient"), even for a CPU model. That warning is silenced unless a
 * CUDA device was asked for, where it is the one line that explains a failure.
 */
final class Quiet {
  private Quiet() {}

  static void forDevice(String device) {
    boolean cuda = device != null && (device.startsWith("cuda") || device.startsWith("gpu"));
    var cudaLog = LoggerFactory.getLogger("ai.djl.util.cuda");
    if (cudaLog instanceof ch.qos.logback.classic.Logger l) {
      l.setLevel(cuda ? Level.WARN : Level.ERROR);
    }
  }
}
