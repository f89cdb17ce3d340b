package ai.zhiku.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.Flag;
import ai.zhiku.common.Flags;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/zhiku's commands as real processes: each --help lists exactly what its parser accepts, wrong
 * flags and values are one line and a non-zero exit, and each start-up failure is one sentence
 * without a stack trace (and without CUDA noise on this CPU host).
 */
class CommandLineTest {
  private static final Pattern HELP_LINE = Pattern.compile("(?m)^ {2}(-[^\\s,]+)(?:, (-[^\\s,]+))?");
  private static final Pattern ALSO = Pattern.compile("\\(also ([^)]*)\\)");

  @TempDir
  Path tmp;

  @Test
  void everyCommandsHelpListsExactlyTheFlagsItsParserAccepts() throws Exception {
    for (Map.Entry<String, Flags> e : Commands.all().entrySet()) {
      List<String> args = new ArrayList<>(List.of(e.getKey().split(" ")));
      args.add("--help");
      Launched.Result r = Launched.run(60, args.toArray(String[]::new));
      assertThat(r.code()).as(e.getKey() + " --help: " + r.stderr()).isZero();
      assertThat(r.stdout()).as(e.getKey()).startsWith("usage: bin/zhiku " + e.getKey());
      Set<String> accepted = new HashSet<>(e.getValue().tokens());
      accepted.addAll(Set.of("--help", "-h"));
      assertThat(listed(r.stdout())).as("flags in bin/zhiku " + e.getKey() + " --help").isEqualTo(accepted);
      for (Flag f : e.getValue().flags()) {
        for (String token : tokensOf(f)) {
          List<String> parse = new ArrayList<>(List.of(token));
          if (f.kind() != Flag.Kind.BOOL) {
            parse.add(f.name().equals("config") ? Files.writeString(tmp.resolve("empty.yaml"), "").toString() : sample(f));
          }
          e.getValue().parse(parse.toArray(String[]::new), Map.of()); // accepted: no exception
        }
      }
    }
    // help has no side effects: no Postgres, no model, nothing listening; and the global usage lists every command
    Launched.Result global = Launched.run(30, "--help");
    for (String command : List.of("serve", "controller", "worker", "api-server", "chat", "kb", "bench")) {
      assertThat(global.stdout()).contains("  " + command + " ");
    }
  }

  @Test
  void theReadmeFlagTableNamesEveryFlag() throws Exception {
    String readme = Files.readString(Path.of(System.getProperty("user.dir")).getParent().resolve("README.md"));
    for (Map.Entry<String, Flags> e : Commands.all().entrySet()) {
      if (e.getKey().startsWith("bench")) {
        continue; // benchmarks: their --help and BENCHMARKS.md
      }
      for (Flag f : e.getValue().flags()) {
        assertThat(readme).as("README names --" + f.name() + " of " + e.getKey()).contains("`--" + f.name());
      }
    }
  }

  private static Set<String> listed(String help) {
    Set<String> out = new HashSet<>();
    Matcher m = HELP_LINE.matcher(help);
    while (m.find()) {
      out.add(m.group(1));
      if (m.group(2) != null) {
        out.add(m.group(2));
      }
    }
    Matcher also = ALSO.matcher(help.replaceAll("\n +", " "));
    while (also.find()) {
      for (String a : also.group(1).split(", ")) {
        out.add(a.trim());
      }
    }
    return out;
  }

  private static List<String> tokensOf(Flag f) {
    List<String> out = new ArrayList<>(List.of("--" + f.name()));
    f.aliases().forEach(a -> out.add(a.length() == 1 ? "-" + a : "--" + a));
    return out;
  }

  private static String sample(Flag f) {
    return switch (f.kind()) {
      case INT, LONG -> "3";
      case NUMBER -> "0.5";
      case SECONDS -> "1.5";
      case BOOL -> "true";
      case BYTES -> "2MiB";
      case MEMORY -> "0.25";
      case PATH -> "/tmp";
      case LIST -> "a,b";
      case URL -> "http://127.0.0.1:1";
      case TEXT -> "x";
      case CHOICE -> f.choices().getFirst();
    };
  }

  @Test
  void unknownFlagsAndBadValuesAreOneLineAndAFailedExit() throws Exception {
    Path yaml = tmp.resolve("z.yaml");
    Files.writeString(yaml, "model-paht: /models/x\n");
    Object[][] cases = {
        {new String[] {"serve", "--model-paht", "/models/x"}, "unknown flag --model-paht; did you mean --model-path?"},
        {new String[] {"worker", "--port", "eighty"}, "--port must be an integer, got 'eighty'"},
        {new String[] {"controller", "--dispatch-method", "lotery"}, "must be one of shortest_queue, lottery, got 'lotery' (did you mean lottery?)"},
        {new String[] {"chat", "--model-path", "/x", "--dtype", "fp8"}, "--dtype must be one of auto, float32, bfloat16, float16"},
        {new String[] {"kb", "ingest", "/x", "--kb", "k", "--serve", "http://127.0.0.1:1"}, "did you mean --server?"},
        {new String[] {"api-server", "--max-body-bytes", "lots"}, "--max-body-bytes must be a size in bytes"},
        {new String[] {"serve", "--config", yaml.toString()}, "unknown key --model-paht; did you mean --model-path?"},
        {new String[] {"serve", "--load-8bit", "--quantize", "int4"}, "--load-8bit means --quantize int8, not --quantize int4"},
        {new String[] {"worker", "--quantize", "int3"}, "--quantize must be one of none, int8, int4"},
        {new String[] {"worker", "--quantize", "int4", "--quantize-group-size", "100"}, "quantize-group-size must be a positive multiple of 8"},
        {new String[] {"worker", "--num-gpus", "2"}, "start one worker per GPU"},
        {new String[] {"worker", "--max-gpu-memory", "13GiB"}, "--max-gpu-memory is not supported"},
        {new String[] {"serve", "--model-path", "/a", "--model-path", "/b", "--model-names", "x"}, "give one --model-names per --model-path"},
    };
    for (Object[] c : cases) {
      String[] args = (String[]) c[0];
      Launched.Result r = Launched.run(60, args);
      assertThat(r.code()).as(String.join(" ", args) + ": " + r.stderr()).isEqualTo(2);
      assertThat(r.errorLines()).as(String.join(" ", args)).hasSize(1);
      assertThat(r.errorLines().getFirst()).contains((String) c[1]);
    }
  }

  @Test
  void startUpErrorsAreOneSentenceWithoutAStackTrace() throws Exception {
    Path golden = Path.of(System.getProperty("zhiku.golden.dir"));
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    Path broken = Files.createDirectories(tmp.resolve("broken"));
    Files.writeString(broken.resolve("config.json"), "{\"hidden_size\": 3,");
    Path typeOnly = Files.createDirectories(tmp.resolve("type-only"));
    Files.writeString(typeOnly.resolve("config.json"), "{\"model_type\":\"internlm2\"}");
    Path noHidden = copyWithConfig(golden.resolve("internlm2-tiny"), "no-hidden", c -> c.replaceAll("\"hidden_size\": *32,", ""));
    Path badHidden = copyWithConfig(golden.resolve("internlm2-tiny"), "bad-hidden", c -> c.replaceAll("\"hidden_size\": *32", "\"hidden_size\": 64"));
    Path llama = copyWithConfig(golden.resolve("internlm2-tiny"), "llama",
        c -> c.replace("\"InternLM2ForCausalLM\"", "\"LlamaForCausalLM\""));
    Path missing = tmp.resolve("missing");
    Object[][] cases = {
        {missing, "--model-path " + missing + " does not exist; give a Hugging Face model directory"},
        {empty, "--model-path " + empty + " has no config.json"},
        {broken, broken.resolve("config.json") + " is not valid JSON (line 1"},
        {typeOnly, typeOnly.resolve("config.json") + " has no \"architectures\" (model_type internlm2)"},
        {llama, "architecture LlamaForCausalLM is not supported; supported chat architectures: "},
        {noHidden, noHidden + ": config.json has no hidden_size"},
        {badHidden, "tensor model.tok_embeddings.weight has shape [92544, 32] but config.json (hidden_size 64"},
    };
    for (Object[] c : cases) {
      Launched.Result r = Launched.run(120, "worker", "--model-path", c[0].toString(), "--port", "0", "--controller-address", "",
          "--dtype", "float32");
      assertOneSentence(r, "zhiku worker: ", (String) c[1]);
    }
    // the terminal chat names the same cause, not a reflection wrapper
    Launched.Result chat = Launched.run(120, "chat", "--model-path", llama.toString());
    assertOneSentence(chat, "zhiku chat: ", "architecture LlamaForCausalLM is not supported");

    try (ServerSocket held = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      int port = held.getLocalPort();
      assertOneSentence(Launched.run(60, "controller", "--port", Integer.toString(port)), "zhiku controller: ",
          "port " + port + " on 127.0.0.1 (the controller) is already in use; stop the process that holds it or choose another port with --port");
      assertOneSentence(Launched.run(120, "serve", "--controller-port", Integer.toString(port), "--port", "0", "--no-kb", "--no-default-embedding"),
          "zhiku serve: ", "port " + port + " on 127.0.0.1 (the controller) is already in use; stop the process that holds it or choose another "
              + "port with --controller-port");
      int closed;
      try (ServerSocket s = new ServerSocket(0)) {
        closed = s.getLocalPort();
      }
      assertOneSentence(Launched.run(120, "kb", "ingest", tmp.toString(), "--kb", "docs", "--server", "http://127.0.0.1:" + closed),
          "kb: ", "kb: cannot reach the server at http://127.0.0.1:" + closed + " (connection refused); start it with bin/zhiku serve");
    }

    // verbose: the same sentence, then the trace
    Launched.Result verbose = Launched.run(60, "worker", "--model-path", missing.toString(), "--verbose");
    assertThat(verbose.stderr()).contains("does not exist").contains("\tat ");
  }

  @Test
  void anUnreachableDatabaseIsNamedWithoutItsPassword() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String url = "jdbc:postgresql://127.0.0.1:" + port + "/zhiku?user=zhiku&password=s3cret";
    Process p = Launched.builder("api-server", "--port", "0", "--controller-address", "http://127.0.0.1:1", "--kb-database-url", url).start();
    StringBuilder err = new StringBuilder();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
      long deadline = System.currentTimeMillis() + 60_000;
      String line;
      while (System.currentTimeMillis() < deadline && (line = r.readLine()) != null) {
        err.append(line).append('\n');
        if (line.contains("knowledge bases:")) {
          break;
        }
      }
    } finally {
      p.destroy();
      p.waitFor(20, TimeUnit.SECONDS);
    }
    assertThat(err.toString()).contains("zhiku: knowledge bases: cannot reach the database at jdbc:postgresql://127.0.0.1:" + port
        + "/zhiku?user=zhiku&password=*** (").contains("start it (scripts/postgres.sh start) or fix --kb-database-url");
    assertThat(err.toString()).doesNotContain("s3cret").doesNotContain("\tat ");
  }

  private static void assertOneSentence(Launched.Result r, String prefix, String sentence) {
    assertThat(r.code()).as(r.stderr()).isNotZero();
    assertThat(r.stderr()).as("no stack trace").doesNotContain("\tat ").doesNotContain("Exception in thread");
    assertThat(r.stderr()).as("no CUDA noise on a CPU host").doesNotContainIgnoringCase("cuda driver").doesNotContain("CUDA is not supported");
    List<String> problem = r.errorLines().stream().filter(l -> l.startsWith(prefix)).toList();
    assertThat(problem).as(r.stderr()).hasSize(1);
    assertThat(problem.getFirst()).contains(sentence);
  }

  private Path copyWithConfig(Path from, String name, java.util.function.UnaryOperator<String> edit) throws Exception {
    Path to = Files.createDirectories(tmp.resolve(name));
    try (var files = Files.list(from)) {
      for (Path f : files.toList()) {
        Files.createSymbolicLink(to.resolve(f.getFileName()), f.toAbsolutePath());
      }
    }
    Files.delete(to.resolve("config.json"));
    Files.writeString(to.resolve("config.json"), edit.apply(Files.readString(from.resolve("config.json"))));
    return to;
  }
}
