package ai.zhiku.inference.cli;

import ai.zhiku.common.Flag;
import ai.zhiku.common.Flags;
import ai.zhiku.common.Options;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationHandle;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.SamplingParams;
import ai.zhiku.common.engine.TokenSink;
import ai.zhiku.inference.ChatEngineConfig;
import ai.zhiku.inference.ChatEngineFactory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The terminal chat (FastChat's {@code fastchat.serve.cli}): a banner, streamed replies with their
 * token rate, {@code !!} commands (see {@link #HELP}), multiline input, and Ctrl-C that stops the
 * reply being generated while the conversation stays.
 */
public final class ChatCommand {
  private ChatCommand() {}

  static final Flag MODEL_PATH = Flag.of("model-path", Flag.Kind.PATH, null, "the chat model's directory (required)");
  static final Flag DEVICE = Flag.text("device", "cpu", "cpu, cuda or cuda:N");
  static final Flag DTYPE = Flag.choice("dtype", "auto", "compute type (auto: bfloat16 on CPUs with AVX512-BF16 or AMX, else float32; float16 on CUDA)",
      "auto", "float32", "bfloat16", "float16");
  static final Flag CHAT_TEMPLATE = Flag.text("chat-template", null, "chat template name").shownDefault("the model family's")
      .alias("conv-template");
  static final Flag SYSTEM = Flag.text("system", null, "system message of every conversation").shownDefault("none");
  static final Flag MAX_TOKENS = Flag.integer("max-tokens", 512, "tokens per reply at most (less when the context is fuller)")
      .alias("max-new-tokens");
  static final Flag TEMPERATURE = Flag.of("temperature", Flag.Kind.NUMBER, "0.7", "sampling temperature (0: greedy)");
  static final Flag KV_CACHE_MEMORY = Flag.of("kv-cache-memory", Flag.Kind.MEMORY, "512MiB",
      "memory of the KV cache: bytes (512MiB) or a fraction of free memory (0.1)");

  public static Flags flags() {
    return Flags.builder("chat", "terminal chat with a local chat model; !!help inside lists the commands")
        .add(MODEL_PATH, DEVICE, DTYPE, CHAT_TEMPLATE, SYSTEM, MAX_TOKENS, TEMPERATURE, KV_CACHE_MEMORY, Flags.CONFIG, Flags.VERBOSE)
        .build();
  }

  static final String HELP = """
      commands:
        !!help, /help          this help
        !!exit, /exit, Ctrl-D  quit
        !!reset, /reset        start a new conversation (the --system message stays)
        !!remove               remove the last exchange (your message and its reply)
        !!regen                generate the last reply again
        !!save FILE            save the conversation as JSON
        !!load FILE            load a conversation saved with !!save
        Ctrl-C                 stop the reply being generated; the conversation stays
      multiline input: end a line with \\ to continue on the next one, or type \"\"\" on a line of its own to start
      a block and again to end it. An empty line is ignored.""";

  public static void main(String[] args) throws Exception {
    System.exit(run(args));
  }

  /** Parses the flags, opens the model and chats on the terminal; returns the exit code. */
  public static int run(String[] args) throws Exception {
    Flags flags = flags();
    if (Flags.wantsHelp(args)) {
      System.out.print(flags.help());
      return 0;
    }
    Options o = flags.parse(args);
    if (o.get(MODEL_PATH) == null) {
      throw new IllegalArgumentException("--model-path is required (bin/zhiku chat --model-path DIR); see bin/zhiku chat --help");
    }
    Path model = Path.of(o.get(MODEL_PATH));
    ai.zhiku.inference.ModelDirectories.requireChatModel(model);
    String device = o.get(DEVICE);
    String dtype = ai.zhiku.inference.model.ModelFamilies.precision(o.get(DTYPE), ai.zhiku.inference.engine.Engines.device(device)).flag();
    float temperature = (float) o.getDouble(TEMPERATURE);
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try (ChatEngine engine = ChatEngineFactory.open(new ChatEngineConfig(model, device, dtype, o.get(CHAT_TEMPLATE), 1,
        o.get(KV_CACHE_MEMORY)))) {
      Session session = new Session(engine, out, o.get(SYSTEM), o.getInt(MAX_TOKENS), temperature);
      out.printf("Zhiku chat: %s (%s) on %s, %s, context %d tokens, template %s%n", model.toAbsolutePath().normalize().getFileName(),
          ai.zhiku.inference.model.ModelFamilies.architecture(model), device, dtype, engine.info().contextLength(),
          engine.info().chatTemplate());
      out.println("!!help lists the commands; !!exit or Ctrl-D quits; Ctrl-C stops a reply.");
      installInterruptHandler(session);
      session.loop(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)));
    }
    return 0;
  }

  /** Ctrl-C (SIGINT) stops the running reply instead of the process. */
  private static void installInterruptHandler(Session session) {
    try {
      sun.misc.Signal.handle(new sun.misc.Signal("INT"), signal -> session.interrupt());
    } catch (IllegalArgumentException | UnsupportedOperationException e) {
      // no SIGINT here (or the JVM keeps it): Ctrl-C ends the process as usual
    }
  }

  /** The conversation loop with the defaults of the flags, for tests. */
  static void run(ChatEngine engine, BufferedReader in, PrintStream out, String system, int maxTokens, float temperature)
      throws Exception {
    new Session(engine, out, system, maxTokens, temperature).loop(in);
  }

  /** One conversation: its history, the reply being generated, and the commands that change them. */
  static final class Session {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final ChatEngine engine;
    private final PrintStream out;
    private final String system;
    private final int maxTokens;
    private final float temperature;
    private final List<ChatMessage> history = new ArrayList<>();
    private final AtomicReference<Reply> current = new AtomicReference<>();

    Session(ChatEngine engine, PrintStream out, String system, int maxTokens, float temperature) {
      this.engine = engine;
      this.out = out;
      this.system = system;
      this.maxTokens = maxTokens;
      this.temperature = temperature;
      reset();
    }

    List<ChatMessage> history() {
      return List.copyOf(history);
    }

    private void reset() {
      history.clear();
      if (system != null) {
        history.add(new ChatMessage("system", system));
      }
    }

    /** Ctrl-C: stops the reply being generated; at the prompt, says how to quit. */
    void interrupt() {
      Reply r = current.get();
      if (r != null) {
        r.stop();
      } else {
        out.print("\n(!!exit or Ctrl-D quits)\nUSER: ");
        out.flush();
      }
    }

    void loop(BufferedReader in) throws Exception {
      while (true) {
        out.print("USER: ");
        out.flush();
        String input = readInput(in);
        if (input == null) {
          out.println();
          return;
        }
        String line = input.strip();
        if (line.isEmpty()) {
          continue;
        }
        if (!command(line)) {
          return;
        }
      }
    }

    /**
     * One message: a line, lines joined while they end with a backslash, or a block between two
     * lines of three double quotes. Null at the end of input.
     */
    private String readInput(BufferedReader in) throws IOException {
      String line = in.readLine();
      if (line == null) {
        return null;
      }
      if (line.strip().equals("\"\"\"")) {
        StringBuilder block = new StringBuilder();
        String next;
        while ((next = in.readLine()) != null && !next.strip().equals("\"\"\"")) {
          if (!block.isEmpty()) {
            block.append('\n');
          }
          block.append(next);
        }
        return block.toString();
      }
      StringBuilder joined = new StringBuilder();
      while (line != null && line.endsWith("\\")) {
        joined.append(line, 0, line.length() - 1).append('\n');
        out.print("....: ");
        out.flush();
        line = in.readLine();
      }
      if (line != null) {
        joined.append(line);
      }
      return joined.toString();
    }

    /** Runs a command or sends a message; false to quit. */
    private boolean command(String line) {
      String word = line.split("\\s+", 2)[0];
      String arg = line.length() > word.length() ? line.substring(word.length()).strip() : "";
      switch (word) {
        case "!!exit", "/exit", "/quit" -> {
          return false;
        }
        case "!!help", "/help" -> out.println(HELP);
        case "!!reset", "/reset" -> {
          reset();
          out.println("(a new conversation)");
        }
        case "!!remove" -> {
          int lastUser = lastIndexOf("user");
          if (lastUser < 0) {
            out.println("(nothing to remove)");
          } else {
            history.subList(lastUser, history.size()).clear();
            out.println("(removed the last exchange)");
          }
        }
        case "!!regen" -> {
          int lastUser = lastIndexOf("user");
          if (lastUser < 0) {
            out.println("(nothing to generate again)");
          } else {
            history.subList(lastUser + 1, history.size()).clear();
            out.println("(generating the last reply again)");
            reply();
          }
        }
        case "!!save" -> save(arg);
        case "!!load" -> load(arg);
        default -> {
          if (word.startsWith("!!")) {
            out.println("(unknown command " + word + "; !!help lists them)");
          } else {
            history.add(new ChatMessage("user", line));
            reply();
          }
        }
      }
      return true;
    }

    private int lastIndexOf(String role) {
      for (int i = history.size() - 1; i >= 0; i--) {
        if (history.get(i).role().equals(role)) {
          return i;
        }
      }
      return -1;
    }

    private void save(String file) {
      if (file.isEmpty()) {
        out.println("(!!save needs a file name)");
        return;
      }
      ObjectNode root = JSON.createObjectNode();
      ArrayNode messages = root.putArray("messages");
      for (ChatMessage m : history) {
        messages.addObject().put("role", m.role()).put("content", m.content());
      }
      try {
        Files.writeString(Path.of(file), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root), StandardCharsets.UTF_8);
        out.println("(saved " + history.size() + " messages to " + file + ")");
      } catch (IOException e) {
        out.println("(cannot save to " + file + ": " + e.getMessage() + ")");
      }
    }

    private void load(String file) {
      if (file.isEmpty()) {
        out.println("(!!load needs a file name)");
        return;
      }
      try {
        JsonNode root = JSON.readTree(Files.readString(Path.of(file), StandardCharsets.UTF_8));
        List<ChatMessage> loaded = new ArrayList<>();
        for (JsonNode m : root.path("messages")) {
          String role = m.path("role").asText("");
          if (!List.of("system", "user", "assistant").contains(role) || !m.path("content").isTextual()) {
            out.println("(" + file + " is not a conversation saved by !!save: message " + loaded.size() + " has no role and content)");
            return;
          }
          loaded.add(new ChatMessage(role, m.get("content").asText()));
        }
        history.clear();
        history.addAll(loaded);
        out.println("(loaded " + loaded.size() + " messages from " + file + ")");
        for (ChatMessage m : loaded) {
          out.println(m.role().toUpperCase(Locale.ROOT) + ": " + m.content());
        }
      } catch (IOException e) {
        out.println("(cannot load " + file + ": " + e.getMessage() + ")");
      }
    }

    /** Streams the reply to the history as it stands; the reply joins the history, even a stopped one. */
    private void reply() {
      PromptInput input = PromptInput.ofMessages(List.copyOf(history));
      int room;
      try {
        room = engine.info().contextLength() - engine.countTokens(input);
      } catch (ZhikuException e) {
        out.println("(" + e.getMessage() + ")");
        history.removeLast();
        return;
      }
      if (room <= 0) {
        out.println("(the conversation is longer than the context; !!remove or !!reset)");
        history.removeLast();
        return;
      }
      out.print("ASSISTANT: ");
      out.flush();
      Reply r = new Reply();
      current.set(r);
      long start = System.nanoTime();
      try {
        GenerationHandle h = engine.submit(new GenerationRequest("chat", input,
            new SamplingParams(temperature, null, null, Math.min(maxTokens, room), List.of(), null, null, null, null), false), r);
        r.handle(h);
        Reply.Outcome outcome = r.done.get();
        double seconds = (System.nanoTime() - start) / 1e9;
        out.println();
        if (outcome.error() != null) {
          out.println("(" + outcome.error().getMessage() + ")");
          history.removeLast();
          return;
        }
        history.add(new ChatMessage("assistant", r.text.toString()));
        String how = outcome.reason() == null ? "stopped" : outcome.reason() == FinishReason.LENGTH ? "length limit" : "done";
        out.printf(Locale.ROOT, "(%s: %d tokens in %.1f s, %.1f tokens/s)%n", how, r.tokens.get(), seconds,
            seconds > 0 ? r.tokens.get() / seconds : 0);
      } catch (ZhikuException e) {
        out.println("(" + e.getMessage() + ")");
        history.removeLast();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException e) {
        out.println("(" + e.getCause() + ")");
        history.removeLast();
      } finally {
        current.set(null);
      }
    }

    /** The reply being generated: printed as it streams, stoppable from the signal handler. */
    private final class Reply implements TokenSink {
      record Outcome(FinishReason reason, Throwable error) {}

      final StringBuilder text = new StringBuilder();
      final AtomicInteger tokens = new AtomicInteger();
      final CompletableFuture<Outcome> done = new CompletableFuture<>();
      private volatile GenerationHandle handle;

      void handle(GenerationHandle h) {
        handle = h;
        if (done.isDone()) {
          h.cancel();
        }
      }

      void stop() {
        if (done.complete(new Outcome(null, null))) {
          GenerationHandle h = handle;
          if (h != null) {
            h.cancel();
          }
        }
      }

      @Override
      public synchronized void onText(String t, int n) {
        if (done.isDone()) {
          return;
        }
        text.append(t);
        tokens.addAndGet(n);
        out.print(t);
        out.flush();
      }

      @Override
      public void onFinish(FinishReason reason, int promptTokens, int completionTokens) {
        done.complete(new Outcome(reason, null));
      }

      @Override
      public void onError(Throwable error) {
        done.complete(new Outcome(null, error));
      }
    }
  }
}
