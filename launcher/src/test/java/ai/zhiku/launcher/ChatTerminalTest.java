package ai.zhiku.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/zhiku chat on a real terminal (tmux, installed by scripts/test-deps.sh) with the tiny InternLM2:
 * every command, multiline input, an empty line, and Ctrl-C during a reply, typed as keys.
 */
class ChatTerminalTest {
  private final String socket = "zhiku-test-" + UUID.randomUUID();

  @TempDir
  Path tmp;

  @AfterEach
  void stopTmux() throws Exception {
    tmux("kill-server");
  }

  @Test
  void everyCommandWorksOnATerminal() throws Exception {
    assertThat(new File("/usr/bin/tmux")).as("tmux is installed by scripts/test-deps.sh (run bin/zhiku test)").exists();
    start("chat", "--max-tokens", "6");
    await("chat", s -> s.contains("Zhiku chat: internlm2-tiny (InternLM2ForCausalLM) on cpu, float32") && s.contains("USER: "));

    type("chat", "!!help");
    await("chat", s -> count(s, "generate the last reply again") == 1);
    type("chat", "/help");
    await("chat", s -> count(s, "generate the last reply again") == 2);

    type("chat", ""); // an empty line does not quit
    type("chat", "你好");
    await("chat", s -> count(s, "tokens/s)") == 1);

    type("chat", "line one\\");
    type("chat", "line two");
    await("chat", s -> count(s, "tokens/s)") == 2 && s.contains("....: "));

    type("chat", "\"\"\"");
    type("chat", "block a");
    type("chat", "block b");
    type("chat", "\"\"\"");
    await("chat", s -> count(s, "tokens/s)") == 3);

    type("chat", "!!regen");
    await("chat", s -> s.contains("(generating the last reply again)") && count(s, "tokens/s)") == 4);
    type("chat", "!!remove");
    await("chat", s -> s.contains("(removed the last exchange)"));

    Path saved = tmp.resolve("conversation.json");
    type("chat", "!!save " + saved);
    await("chat", s -> s.contains("(saved 4 messages to "));
    String json = Files.readString(saved, StandardCharsets.UTF_8);
    assertThat(json).contains("你好").contains("line one\\nline two").doesNotContain("block a");

    type("chat", "!!reset");
    await("chat", s -> s.contains("(a new conversation)"));
    type("chat", "!!load " + saved);
    await("chat", s -> s.contains("(loaded 4 messages from "));
    type("chat", "!!bogus");
    await("chat", s -> s.contains("(unknown command !!bogus; !!help lists them)"));
    assertThat(screen("chat")).doesNotContain("CHAT-EXITED");

    type("chat", "!!exit");
    await("chat", s -> s.contains("CHAT-EXITED-0"));
  }

  @Test
  void ctrlCStopsTheReplyAndKeepsTheConversation() throws Exception {
    assertThat(new File("/usr/bin/tmux")).as("tmux is installed by scripts/test-deps.sh (run bin/zhiku test)").exists();
    start("long", "--max-tokens", "20000");
    await("long", s -> s.contains("USER: "));
    type("long", "你好");
    await("long", s -> s.contains("ASSISTANT: ") && s.substring(s.indexOf("ASSISTANT: ")).strip().length() > 40);
    tmux("send-keys", "-t", "long", "C-c");
    await("long", s -> s.contains("(stopped: ") && s.substring(s.lastIndexOf("(stopped: ")).contains("USER: "));
    assertThat(screen("long")).doesNotContain("CHAT-EXITED");
    Path saved = tmp.resolve("kept.json");
    type("long", "!!save " + saved);
    await("long", s -> s.contains("(saved 2 messages")); // the question and the part of the reply before Ctrl-C
    tmux("send-keys", "-t", "long", "C-c"); // at the prompt: a hint, not the end
    await("long", s -> s.contains("(!!exit or Ctrl-D quits)"));
    tmux("send-keys", "-t", "long", "C-d");
    await("long", s -> s.contains("CHAT-EXITED-0"));
  }

  private void start(String session, String... extra) throws Exception {
    Path golden = Path.of(System.getProperty("zhiku.golden.dir"), "internlm2-tiny");
    List<String> args = new ArrayList<>(List.of("chat", "--model-path", golden.toString(), "--dtype", "float32", "--temperature", "0"));
    args.addAll(List.of(extra));
    String command = Launched.command(args.toArray(String[]::new)).stream().map(ChatTerminalTest::quote).collect(Collectors.joining(" "));
    tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", command + "; echo CHAT-EXITED-$?; sleep 600");
  }

  private void type(String session, String text) throws Exception {
    if (!text.isEmpty()) {
      tmux("send-keys", "-t", session, "-l", "--", text);
    }
    tmux("send-keys", "-t", session, "Enter");
  }

  private String screen(String session) throws Exception {
    return tmux("capture-pane", "-p", "-J", "-t", session, "-S", "-5000");
  }

  private void await(String session, Predicate<String> condition) throws Exception {
    long deadline = System.currentTimeMillis() + 120_000;
    String s = "";
    while (System.currentTimeMillis() < deadline) {
      s = screen(session);
      if (condition.test(s)) {
        return;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("the terminal never showed what was expected; it shows:\n" + s);
  }

  private String tmux(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("tmux", "-L", socket));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("ZHIKU_"));
    pb.environment().put("LANG", "C.UTF-8");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor(30, TimeUnit.SECONDS);
    return out;
  }

  private static int count(String s, String what) {
    int n = 0;
    for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + what.length())) {
      n++;
    }
    return n;
  }

  private static String quote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }
}
