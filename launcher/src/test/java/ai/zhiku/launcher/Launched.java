package ai.zhiku.launcher;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * {@code bin/zhiku}'s Java command as a real process: the launcher's runtime classpath (this test's,
 * without the test classes, so the shipped logback.xml applies) and the JVM flags bin/zhiku passes.
 */
final class Launched {
  private Launched() {}

  record Result(int code, String stdout, String stderr) {
    /** Stderr without the JVM's own notice about the incubator module bin/zhiku adds. */
    List<String> errorLines() {
      return stderr.lines().filter(l -> !l.startsWith("WARNING: Using incubator modules")).filter(l -> !l.isBlank()).toList();
    }
  }

  static String classpath() {
    return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
        .filter(p -> !p.endsWith("test-classes")).collect(Collectors.joining(File.pathSeparator));
  }

  static List<String> command(String... args) {
    List<String> cmd = new ArrayList<>(List.of(Path.java(), "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"));
    if (Runtime.version().feature() >= 23) {
      cmd.add("--sun-misc-unsafe-memory-access=allow");
    }
    cmd.addAll(List.of("-cp", classpath(), "ai.zhiku.launcher.Main"));
    cmd.addAll(List.of(args));
    return cmd;
  }

  static ProcessBuilder builder(String... args) {
    ProcessBuilder pb = new ProcessBuilder(command(args));
    pb.environment().keySet().removeIf(k -> k.startsWith("ZHIKU_"));
    return pb;
  }

  /** Runs to the end (at most {@code seconds}); a process still running then is killed and the test fails. */
  static Result run(int seconds, String... args) throws IOException, InterruptedException {
    Process p = builder(args).start();
    p.getOutputStream().close();
    var out = new StringBuilder();
    var err = new StringBuilder();
    Thread a = drain(p.getInputStream(), out);
    Thread b = drain(p.getErrorStream(), err);
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("still running after " + seconds + " s: " + String.join(" ", args) + "\nstderr: " + err);
    }
    a.join();
    b.join();
    return new Result(p.exitValue(), out.toString(), err.toString());
  }

  static Thread drain(java.io.InputStream in, StringBuilder into) {
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          synchronized (into) {
            into.append(line).append('\n');
          }
        }
      } catch (IOException ignored) {
        // the process ended
      }
    });
    t.setDaemon(true);
    t.start();
    return t;
  }

  static final class Path {
    static String java() {
      return java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
  }
}
