package ai.zhiku.launcher;

import ai.zhiku.common.StartupException;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.inference.weights.CheckpointException;
import java.lang.reflect.InvocationTargetException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Turns what stopped a command into one sentence on stderr; the stack trace only under --verbose. */
final class StartupErrors {
  private StartupErrors() {}

  /** Prints the sentence; returns the exit code (2: usage, 1: anything else). */
  static int report(String prefix, Throwable error, boolean verbose) {
    Throwable t = unwrap(error);
    int code = 1;
    String sentence;
    if (t instanceof StartupException || t instanceof CheckpointException || t instanceof ZhikuException) {
      sentence = t.getMessage();
    } else if (t instanceof IllegalArgumentException && t.getMessage() != null) {
      sentence = t.getMessage();
      code = 2;
    } else if (t instanceof OutOfMemoryError) {
      sentence = "out of memory (" + t.getMessage() + "); give the JVM more heap (ZHIKU_JAVA_OPTS=-Xmx...) or a smaller model or KV cache";
    } else {
      sentence = t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage())
          + (verbose ? "" : " (run with --verbose for the stack trace)");
    }
    System.err.println(prefix + ": " + sentence);
    if (verbose) {
      error.printStackTrace();
    }
    System.err.flush();
    return code;
  }

  static Throwable unwrap(Throwable t) {
    while ((t instanceof InvocationTargetException || t instanceof ExecutionException || t instanceof CompletionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /** A failed listen as a sentence: a port in use names the port and the flag that moves it. */
  static RuntimeException listenFailure(Throwable cause, String what, String host, int port, String flag) {
    Throwable t = unwrap(cause);
    boolean inUse = t instanceof java.net.BindException
        || (t != null && t.getMessage() != null && t.getMessage().contains("Address already in use"));
    if (inUse) {
      return new StartupException("port " + port + " on " + host + " (" + what + ") is already in use; stop the process that holds it"
          + (flag == null ? "" : " or choose another port with " + flag), t);
    }
    if (t instanceof RuntimeException r && (r instanceof StartupException || r instanceof ZhikuException || r instanceof IllegalArgumentException)) {
      return r;
    }
    return new StartupException(what + " could not listen on " + host + ":" + port + ": " + t, t);
  }
}
