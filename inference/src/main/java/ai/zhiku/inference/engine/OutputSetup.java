package ai.zhiku.inference.engine;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.TokenLogprob;
import ai.zhiku.common.engine.TokenSink;
import ai.zhiku.common.engine.ToolChoice;
import ai.zhiku.inference.grammar.Constraint;
import ai.zhiku.inference.grammar.Grammars;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.sampling.Logprobs;
import ai.zhiku.inference.tokenizer.ChatTemplate;
import ai.zhiku.inference.tokenizer.IncrementalDetokenizer;
import ai.zhiku.inference.tokenizer.Tokenizer;
import ai.zhiku.inference.tools.ToolCallFormat;
import ai.zhiku.inference.tools.ToolCallParser;
import ai.zhiku.inference.tools.ToolCallSink;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What a request asks of its output beyond sampling, set up before it is queued: the grammar its
 * tokens are held to (a JSON format, or a forced tool call in the family's format), whether the
 * reply is read for tool calls (decoded with its special tokens, parsed on the way out), and its
 * logprobs in OpenAI's terms.
 */
final class OutputSetup {
  private final ChatModel model;
  private final ChatTemplate template;
  private final Grammars grammars;

  record Prepared(TokenSink sink, IncrementalDetokenizer detokenizer, Constraint constraint) {}

  OutputSetup(ChatModel model, ChatTemplate template) {
    this.model = model;
    this.template = template;
    this.grammars = new Grammars(model.tokenizer(), model.stopIds());
  }

  /** Refuses (400) a format, tool choice or bias this model cannot honour. */
  Prepared prepare(GenerationRequest request, List<String> stops, TokenSink sink) {
    int vocab = model.model().config().vocabSize();
    for (int id : request.logitBias().keySet()) {
      if (id < 0 || id >= vocab) {
        throw ZhikuException.invalid("logit_bias", "logit_bias names token " + id + ", outside this model's vocabulary (0.." + (vocab - 1) + ")");
      }
    }
    ToolCallParser parser = request.parsesToolCalls() ? template.toolParser(request.input().tools()) : null;
    Constraint constraint;
    ToolChoice choice = request.toolChoice();
    if (request.input().isChat() && !request.input().tools().isEmpty() && choice.forced()) {
      ToolCallFormat format = parser == null ? null : parser.callFormat();
      if (format == null) {
        throw ZhikuException.invalid("tool_choice", "the " + template.name() + " chat template has no tool-call format that decoding "
            + "can be held to, so tool_choice '" + (choice.function() == null ? "required" : "function") + "' cannot be honoured; use 'auto'");
      }
      constraint = grammars.forToolCall(format, request.input().tools(), choice.function());
    } else {
      constraint = grammars.forFormat(request.format());
    }
    TokenSink out = parser == null ? sink : new ToolCallSink(parser, sink);
    return new Prepared(out, new IncrementalDetokenizer(model.tokenizer(), stops, parser == null), constraint);
  }

  /** A step's logprobs as the API reports them. */
  TokenLogprob logprob(Logprobs lp) {
    List<TokenLogprob.Alternative> top = new ArrayList<>(lp.ids().length);
    for (int j = 0; j < lp.ids().length; j++) {
      int id = lp.ids()[j];
      top.add(new TokenLogprob.Alternative(text(id), lp.logprobs()[j], model.tokenizer().tokenBytes(id)));
    }
    return new TokenLogprob(text(lp.chosen()), lp.chosenLogprob(), model.tokenizer().tokenBytes(lp.chosen()), top);
  }

  /** A prompt's first token, which nothing predicts: its logprob is NaN (the API's null). */
  TokenLogprob unscored(int id) {
    return new TokenLogprob(text(id), Float.NaN, model.tokenizer().tokenBytes(id), List.of());
  }

  /** A token's text: its bytes as UTF-8 (a partial character as U+FFFD), a special token by its name. */
  private String text(int id) {
    Tokenizer t = model.tokenizer();
    byte[] b = t.tokenBytes(id);
    return b != null ? new String(b, StandardCharsets.UTF_8) : t.decode(new int[] {id}, false);
  }
}
