package ai.zhiku.inference.tools;

import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.TokenLogprob;
import ai.zhiku.common.engine.TokenSink;
import ai.zhiku.common.engine.ToolCall;
import java.util.List;

/**
 * Reads a reply (decoded with its special tokens) for tool calls on its way to {@code next}: text
 * that can only be content passes on as it comes, text that may be part of a call is held back,
 * and the calls go to {@link TokenSink#onToolCalls} at the end, with finish reason
 * {@code tool_calls}. No part of a call ever reaches the content.
 */
public final class ToolCallSink implements TokenSink {
  private final ToolCallParser.Stream stream;
  private final TokenSink next;
  private int heldTokens;

  public ToolCallSink(ToolCallParser parser, TokenSink next) {
    this.stream = new ToolCallParser.Stream(parser);
    this.next = next;
  }

  @Override
  public void onText(String text, int tokens) {
    String content = stream.push(text);
    heldTokens += tokens;
    if (!content.isEmpty()) {
      next.onText(content, heldTokens);
      heldTokens = 0;
    }
  }

  @Override
  public void onLogprob(TokenLogprob logprob) { next.onLogprob(logprob); }

  @Override
  public void onToolCalls(List<ToolCall> calls) { next.onToolCalls(calls); }

  @Override
  public void onFinish(FinishReason reason, int promptTokens, int completionTokens) {
    ToolCallParser.Parsed rest = stream.finish();
    String content = rest.content() == null ? "" : rest.content();
    if (!content.isEmpty() || heldTokens > 0) next.onText(content, heldTokens);
    heldTokens = 0;
    if (!rest.calls().isEmpty()) {
      next.onToolCalls(rest.calls());
      if (reason == FinishReason.STOP) reason = FinishReason.TOOL_CALLS;
    }
    next.onFinish(reason, promptTokens, completionTokens);
  }

  @Override
  public void onError(Throwable error) { next.onError(error); }
}
