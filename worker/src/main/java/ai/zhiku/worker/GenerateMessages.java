package ai.zhiku.worker;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatMessage;
import ai.zhiku.common.engine.ChatTool;
import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.ResponseFormat;
import ai.zhiku.common.engine.SamplingParams;
import ai.zhiku.common.engine.TokenLogprob;
import ai.zhiku.common.engine.ToolCall;
import ai.zhiku.common.engine.ToolChoice;
import ai.zhiku.protocol.TopLogprob;
import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;

/** Generate's wire messages to the engine's types and back. */
final class GenerateMessages {
  private GenerateMessages() {}

  static GenerationRequest request(ai.zhiku.protocol.GenerateRequest msg) {
    ai.zhiku.protocol.SamplingParams s = msg.getSampling();
    SamplingParams sampling = new SamplingParams(
        s.hasTemperature() ? s.getTemperature() : null,
        s.hasTopP() ? s.getTopP() : null,
        s.hasTopK() ? s.getTopK() : null,
        s.hasMaxTokens() ? s.getMaxTokens() : null,
        s.getStopList(),
        s.hasPresencePenalty() ? s.getPresencePenalty() : null,
        s.hasFrequencyPenalty() ? s.getFrequencyPenalty() : null,
        s.hasRepetitionPenalty() ? s.getRepetitionPenalty() : null,
        s.hasSeed() ? s.getSeed() : null);
    return new GenerationRequest(msg.getRequestId(), prompt(msg), sampling, msg.getEcho(), toolChoice(msg.getToolChoice()),
        format(msg.getResponseFormat()), msg.hasLogprobs() ? msg.getLogprobs() : -1, msg.getLogitBiasMap());
  }

  /** What CountTokens counts: a prompt, or messages rendered without tools. */
  static PromptInput countInput(ai.zhiku.protocol.CountTokensRequest msg) {
    if (msg.hasMessages()) {
      List<ChatTool> tools = new ArrayList<>(msg.getToolsCount());
      msg.getToolsList().forEach(t -> tools.add(new ChatTool(t.getName(), t.getJson())));
      return PromptInput.ofMessages(messages(msg.getMessages()), tools);
    }
    if (msg.hasPrompt()) return PromptInput.ofPrompt(msg.getPrompt());
    throw ZhikuException.invalid("prompt", "either a prompt or messages is required");
  }

  private static List<ChatMessage> messages(ai.zhiku.protocol.Messages messages) {
    List<ChatMessage> list = new ArrayList<>(messages.getMessagesCount());
    for (ai.zhiku.protocol.ChatMessage m : messages.getMessagesList()) {
      list.add(new ChatMessage(m.getRole(), m.getContent(), calls(m.getToolCallsList()),
          m.getToolCallId().isEmpty() ? null : m.getToolCallId(), m.getName().isEmpty() ? null : m.getName()));
    }
    return list;
  }

  private static PromptInput prompt(ai.zhiku.protocol.GenerateRequest msg) {
    switch (msg.getInputCase()) {
      case MESSAGES -> {
        List<ChatMessage> list = messages(msg.getMessages());
        List<ChatTool> tools = new ArrayList<>(msg.getToolsCount());
        msg.getToolsList().forEach(t -> tools.add(new ChatTool(t.getName(), t.getJson())));
        return PromptInput.ofMessages(list, tools);
      }
      case PROMPT -> {
        return PromptInput.ofPrompt(msg.getPrompt());
      }
      case PROMPT_IDS -> {
        return PromptInput.ofIds(msg.getPromptIds().getIdsList().stream().mapToInt(Integer::intValue).toArray());
      }
      default -> throw ZhikuException.invalid("prompt", "either a prompt or messages is required");
    }
  }

  private static List<ToolCall> calls(List<ai.zhiku.protocol.ToolCall> calls) {
    List<ToolCall> out = new ArrayList<>(calls.size());
    for (ai.zhiku.protocol.ToolCall c : calls) out.add(new ToolCall(c.getId().isEmpty() ? null : c.getId(), c.getName(), c.getArguments()));
    return out;
  }

  private static ToolChoice toolChoice(ai.zhiku.protocol.ToolChoice c) {
    return switch (c.getMode()) {
      case MODE_NONE -> new ToolChoice(ToolChoice.Mode.NONE, null, c.getParallel());
      case MODE_REQUIRED -> new ToolChoice(ToolChoice.Mode.REQUIRED, null, c.getParallel());
      case MODE_FUNCTION -> new ToolChoice(ToolChoice.Mode.FUNCTION, c.getFunction(), c.getParallel());
      default -> new ToolChoice(ToolChoice.Mode.AUTO, null, c.getParallel());
    };
  }

  private static ResponseFormat format(ai.zhiku.protocol.ResponseFormat f) {
    return switch (f.getType()) {
      case TYPE_JSON_OBJECT -> ResponseFormat.JSON_OBJECT;
      case TYPE_JSON_SCHEMA -> ResponseFormat.jsonSchema(f.getSchema());
      default -> ResponseFormat.TEXT;
    };
  }

  static ai.zhiku.protocol.FinishReason finishReason(FinishReason r) {
    return switch (r) {
      case LENGTH -> ai.zhiku.protocol.FinishReason.FINISH_REASON_LENGTH;
      case TOOL_CALLS -> ai.zhiku.protocol.FinishReason.FINISH_REASON_TOOL_CALLS;
      case STOP -> ai.zhiku.protocol.FinishReason.FINISH_REASON_STOP;
    };
  }

  static String finishName(FinishReason r) {
    return switch (r) {
      case LENGTH -> "length";
      case TOOL_CALLS -> "tool_calls";
      case STOP -> "stop";
    };
  }

  static ai.zhiku.protocol.ToolCall toolCall(ToolCall c) {
    return ai.zhiku.protocol.ToolCall.newBuilder().setId(c.id() == null ? "" : c.id()).setName(c.name()).setArguments(c.arguments()).build();
  }

  static ai.zhiku.protocol.TokenLogprob logprob(TokenLogprob lp) {
    ai.zhiku.protocol.TokenLogprob.Builder b = ai.zhiku.protocol.TokenLogprob.newBuilder().setToken(lp.token()).setLogprob(lp.logprob());
    if (lp.bytes() == null) b.setSpecial(true);
    else b.setBytes(ByteString.copyFrom(lp.bytes()));
    for (TokenLogprob.Alternative a : lp.top()) {
      TopLogprob.Builder t = TopLogprob.newBuilder().setToken(a.token()).setLogprob(a.logprob());
      if (a.bytes() == null) t.setSpecial(true);
      else t.setBytes(ByteString.copyFrom(a.bytes()));
      b.addTop(t);
    }
    return b.build();
  }
}
