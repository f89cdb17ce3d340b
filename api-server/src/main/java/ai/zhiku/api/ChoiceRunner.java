package ai.zhiku.api;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.protocol.GenerateChunk;
import ai.zhiku.protocol.GenerateRequest;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the generations behind one OpenAI request (n choices, or one per prompt) concurrently on
 * workers and reports their events in order per choice. The first error cancels the rest and is
 * reported once; a cancel from the client cancels all.
 */
final class ChoiceRunner {

  interface Events {
    /** Text of choice {@code index}, with the logprobs of the tokens generated since the last call (often empty). */
    void onText(int index, String text, int tokens, List<ai.zhiku.protocol.TokenLogprob> logprobs);

    /** Choice {@code index} ended; {@code calls} are the tool calls its reply made (empty for most). */
    void onFinish(int index, String finishReason, int promptTokens, int completionTokens, List<ai.zhiku.protocol.ToolCall> calls);

    void onError(ZhikuException error);

    /** Every choice finished. */
    void onComplete();
  }

  private final List<Upstream.StreamCall> calls = new ArrayList<>();
  private int remaining;
  private boolean failed;
  private volatile boolean cancelled;

  /** Dispatches every generation, unless the client went away before (then nothing is sent). */
  void start(Upstream upstream, String model, List<GenerateRequest> requests, Events events) {
    if (cancelled) {
      return;
    }
    remaining = requests.size();
    for (int i = 0; i < requests.size(); i++) {
      int index = i;
      calls.add(upstream.generate(model, requests.get(i), new Upstream.StreamListener() {
        @Override
        public void onChunk(GenerateChunk chunk) {
          if (failed || cancelled) {
            return;
          }
          if (!chunk.getText().isEmpty() || chunk.getLogprobsCount() > 0) {
            events.onText(index, chunk.getText(), chunk.getTokenCount(), chunk.getLogprobsList());
          }
          if (chunk.hasUsage()) {
            String reason = switch (chunk.getFinishReason()) {
              case FINISH_REASON_LENGTH -> "length";
              case FINISH_REASON_TOOL_CALLS -> "tool_calls";
              default -> "stop";
            };
            events.onFinish(index, reason, chunk.getUsage().getPromptTokens(), chunk.getUsage().getCompletionTokens(),
                chunk.getToolCallsList());
          }
        }

        @Override
        public void onEnd() {
          if (failed || cancelled) {
            return;
          }
          if (--remaining == 0) {
            events.onComplete();
          }
        }

        @Override
        public void onError(ZhikuException error) {
          if (failed || cancelled) {
            return;
          }
          failed = true;
          cancel();
          events.onError(error);
        }
      }));
    }
  }

  /** Stops reading the workers' replies (the client reads slower than they write) until {@link #resume}. */
  void pause() {
    for (Upstream.StreamCall c : calls) {
      c.pause();
    }
  }

  void resume() {
    for (Upstream.StreamCall c : calls) {
      c.resume();
    }
  }

  boolean cancelled() {
    return cancelled;
  }

  void cancel() {
    cancelled = true;
    for (Upstream.StreamCall c : calls) {
      c.cancel();
    }
  }
}
