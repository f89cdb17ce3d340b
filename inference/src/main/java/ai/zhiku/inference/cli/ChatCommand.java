package ai.zhiku.inference.cli;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.SamplingParams;
import ai.zhiku.common.engine.TokenSink;
import ai.zhiku.inference.ChatEngineConfig;
import ai.zhiku.inference.ChatEngineFactory;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * FastChat's terminal chat: reads a line, streams the reply, keeps the conversation.
 * {@code --model-path DIR [--device cpu] [--dtype auto] [--max-tokens 512] [--temperature 0.7]
 * [--system TEXT] [--chat-template NAME]}. An empty line or EOF ends the session; {@code /reset}
 * starts a new conversation.
 */
public final class ChatCommand {
  private ChatCommand() {}

  public static void main(String[] args) throws Exception {
    Path model = null;
    String device = "cpu";
    String dtype = "auto";
    String template = null;
    String system = null;
    int maxTokens = 512;
    float temperature = 0.7f;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String v = i + 1 < args.length ? args[i + 1] : null;
      switch (a) {
        case "--model-path" -> { model = Path.of(need(a, v)); i++; }
        case "--device" -> { device = need(a, v); i++; }
        case "--dtype" -> { dtype = need(a, v); i++; }
        case "--chat-template" -> { template = need(a, v); i++; }
        case "--system" -> { system = need(a, v); i++; }
        case "--max-tokens" -> { maxTokens = Integer.parseInt(need(a, v)); i++; }
        case "--temperature" -> { temperature = Float.parseFloat(need(a, v)); i++; }
        case "-h", "--help" -> {
          System.out.println("usage: zhiku chat --model-path DIR [--device cpu|cuda[:N]] [--dtype auto|float32|bfloat16|float16]"
              + " [--max-tokens N] [--temperature T] [--system TEXT] [--chat-template NAME]");
          return;
        }
        default -> throw new IllegalArgumentException("unknown option " + a + " (try --help)");
      }
    }
    if (model == null) throw new IllegalArgumentException("--model-path is required");
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try (ChatEngine engine = ChatEngineFactory.open(new ChatEngineConfig(model, device, dtype, template, 1))) {
      run(engine, new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), out, system, maxTokens, temperature);
    }
  }

  private static String need(String flag, String value) {
    if (value == null) throw new IllegalArgumentException(flag + " needs a value");
    return value;
  }

  /** The conversation loop, separate from flag parsing so it can be driven by tests. */
  static void run(ChatEngine engine, BufferedReader in, PrintStream out, String system, int maxTokens, float temperature)
      throws Exception {
    List<ChatMessage> history = new ArrayList<>();
    if (system != null) history.add(new ChatMessage("system", system));
    int context = engine.info().contextLength();
    while (true) {
      out.print("USER: ");
      String line = in.readLine();
      if (line == null || line.isBlank()) break;
      if (line.strip().equals("/reset")) {
        history.subList(system == null ? 0 : 1, history.size()).clear();
        continue;
      }
      history.add(new ChatMessage("user", line));
      PromptInput input = PromptInput.ofMessages(history);
      int room = context - engine.countTokens(input);
      if (room <= 0) {
        out.println("(the conversation is longer than the context; /reset to start over)");
        history.remove(history.size() - 1);
        continue;
      }
      StringBuilder reply = new StringBuilder();
      CompletableFuture<FinishReason> done = new CompletableFuture<>();
      out.print("ASSISTANT: ");
      try {
        engine.submit(new GenerationRequest("chat", input,
            new SamplingParams(temperature, null, null, Math.min(maxTokens, room), List.of(), null, null, null, null), false),
            new TokenSink() {
              public void onText(String text, int tokens) {
                reply.append(text);
                out.print(text);
              }

              public void onFinish(FinishReason reason, int promptTokens, int completionTokens) { done.complete(reason); }

              public void onError(Throwable error) { done.completeExceptionally(error); }
            });
        done.get();
      } catch (ZhikuException e) {
        out.println("(" + e.getMessage() + ")");
        history.remove(history.size() - 1);
        continue;
      }
      out.println();
      history.add(new ChatMessage("assistant", reply.toString()));
    }
  }
}
