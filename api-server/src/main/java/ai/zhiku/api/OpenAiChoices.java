package ai.zhiku.api;

import ai.zhiku.protocol.TokenLogprob;
import ai.zhiku.protocol.ToolCall;
import ai.zhiku.protocol.TopLogprob;
import com.google.protobuf.ByteString;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.security.SecureRandom;
import java.util.List;

/** The parts of a choice OpenAI shapes in its own way: tool calls and logprobs (chat's and the legacy completions form). */
final class OpenAiChoices {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final char[] ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
  /** Characters of a call's arguments per streamed delta. */
  static final int ARGUMENT_PIECE = 24;

  private OpenAiChoices() {}

  /** A fresh call id, {@code call_} and 24 random letters and digits, as OpenAI's look. */
  static String callId() {
    StringBuilder sb = new StringBuilder("call_");
    for (int i = 0; i < 24; i++) sb.append(ALPHABET[RANDOM.nextInt(ALPHABET.length)]);
    return sb.toString();
  }

  /** {@code message.tool_calls}: each call with its id (assigned here when the model's format has none). */
  static JsonArray toolCalls(List<ToolCall> calls) {
    JsonArray out = new JsonArray();
    for (ToolCall c : calls) {
      out.add(new JsonObject().put("id", c.getId().isEmpty() ? callId() : c.getId()).put("type", "function")
          .put("function", new JsonObject().put("name", c.getName()).put("arguments", c.getArguments())));
    }
    return out;
  }

  /**
   * The streamed deltas of the calls, as OpenAI sends them: per call, one delta with its index, id,
   * type, name and empty arguments, then the arguments in pieces.
   */
  static List<JsonObject> toolCallDeltas(List<ToolCall> calls) {
    List<JsonObject> out = new java.util.ArrayList<>();
    for (int i = 0; i < calls.size(); i++) {
      ToolCall c = calls.get(i);
      out.add(new JsonObject().put("index", i).put("id", c.getId().isEmpty() ? callId() : c.getId()).put("type", "function")
          .put("function", new JsonObject().put("name", c.getName()).put("arguments", "")));
      String args = c.getArguments();
      for (int at = 0; at < args.length(); ) {
        int end = Math.min(args.length(), at + ARGUMENT_PIECE);
        if (end < args.length() && Character.isHighSurrogate(args.charAt(end - 1))) end++;
        out.add(new JsonObject().put("index", i).put("function", new JsonObject().put("arguments", args.substring(at, end))));
        at = end;
      }
    }
    return out;
  }

  /** Chat's {@code logprobs.content} entries. */
  static JsonArray chatContent(List<TokenLogprob> logprobs) {
    JsonArray out = new JsonArray();
    for (TokenLogprob lp : logprobs) {
      JsonArray top = new JsonArray();
      for (TopLogprob t : lp.getTopList()) {
        top.add(new JsonObject().put("token", t.getToken()).put("logprob", (double) t.getLogprob()).put("bytes", bytes(t.getBytes(), t.getSpecial())));
      }
      out.add(new JsonObject().put("token", lp.getToken()).put("logprob", (double) lp.getLogprob())
          .put("bytes", bytes(lp.getBytes(), lp.getSpecial())).put("top_logprobs", top));
    }
    return out;
  }

  static JsonObject chatLogprobs(JsonArray content) {
    return new JsonObject().put("content", content).putNull("refusal");
  }

  /**
   * The legacy completions {@code logprobs}: parallel lists of tokens, their logprobs, the top
   * alternatives as token-to-logprob maps, and each token's character offset in the choice's text
   * (which starts at {@code offset}: after an echoed prompt).
   */
  static JsonObject completionLogprobs(List<TokenLogprob> logprobs, int offset) {
    JsonArray tokens = new JsonArray();
    JsonArray tokenLogprobs = new JsonArray();
    JsonArray top = new JsonArray();
    JsonArray offsets = new JsonArray();
    int at = offset;
    for (TokenLogprob lp : logprobs) {
      tokens.add(lp.getToken());
      if (Float.isNaN(lp.getLogprob())) { // a prompt's first token: nothing predicts it
        tokenLogprobs.addNull();
        top.addNull();
      } else {
        tokenLogprobs.add((double) lp.getLogprob());
        JsonObject alts = new JsonObject();
        for (TopLogprob t : lp.getTopList()) alts.put(t.getToken(), (double) t.getLogprob());
        top.add(alts);
      }
      offsets.add(at);
      if (!lp.getSpecial()) at += lp.getToken().length();
    }
    return new JsonObject().put("tokens", tokens).put("token_logprobs", tokenLogprobs).put("top_logprobs", top).put("text_offset", offsets);
  }

  private static Object bytes(ByteString b, boolean special) {
    if (special) return null;
    JsonArray out = new JsonArray();
    for (int i = 0; i < b.size(); i++) out.add(b.byteAt(i) & 0xff);
    return out;
  }
}
