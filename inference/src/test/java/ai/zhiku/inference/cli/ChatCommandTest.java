package ai.zhiku.inference.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.common.engine.GenerationHandle;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.ChatModelInfo;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.TokenSink;
import ai.zhiku.inference.ChatEngineConfig;
import ai.zhiku.inference.ChatEngineFactory;
import ai.zhiku.inference.Goldens;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChatCommandTest {

  /** Records the prompts the CLI sends to the real engine. */
  private static final class RecordingEngine implements ChatEngine {
    final ChatEngine real;
    final List<PromptInput> inputs = new ArrayList<>();

    RecordingEngine(ChatEngine real) { this.real = real; }

    public ChatModelInfo info() { return real.info(); }

    public int countTokens(PromptInput input) { return real.countTokens(input); }

    public GenerationHandle submit(GenerationRequest request, TokenSink sink) {
      inputs.add(request.input());
      return real.submit(request, sink);
    }

    public void close() { real.close(); }
  }

  @Test
  void keepsTheConversationAndStreamsReplies() throws Exception {
    try (RecordingEngine e = new RecordingEngine(ChatEngineFactory.open(
        new ChatEngineConfig(Goldens.dir("internlm2-tiny"), "cpu", "float32", null, 1)))) {
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      ChatCommand.run(e, new BufferedReader(new StringReader("你好\n再说一遍\n\n")),
          new PrintStream(buf, true, StandardCharsets.UTF_8), null, 8, 0f);
      String out = buf.toString(StandardCharsets.UTF_8);
      assertThat(out.split("ASSISTANT: ", -1)).hasSize(3);
      assertThat(e.inputs).hasSize(2);
      var second = e.inputs.get(1).messages();
      assertThat(second).hasSize(3);
      assertThat(second.get(0).content()).isEqualTo("你好");
      assertThat(second.get(1).role()).isEqualTo("assistant");
      assertThat(out).contains(second.get(1).content());
    }
  }
}
