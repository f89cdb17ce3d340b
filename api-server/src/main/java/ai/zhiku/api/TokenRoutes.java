package ai.zhiku.api;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.protocol.CountTokensReply;
import ai.zhiku.protocol.CountTokensRequest;
import ai.zhiku.protocol.DetokenizeReply;
import ai.zhiku.protocol.DetokenizeRequest;
import ai.zhiku.protocol.Messages;
import ai.zhiku.protocol.ModelKind;
import ai.zhiku.protocol.WorkerGrpcClient;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.List;

/**
 * Counting tokens: vLLM's {@code POST /tokenize} and {@code /detokenize} (so clients can count and
 * budget their prompts exactly as the model will), and FastChat's {@code /api/v1/token_check}.
 */
final class TokenRoutes {
  private final Upstream upstream;

  TokenRoutes(Upstream upstream) {
    this.upstream = upstream;
  }

  /**
   * {@code {model, prompt}} or {@code {model, messages[, tools]}} → {@code {count, max_model_len,
   * tokens}}: a prompt as completions tokenize it (with the model's prefix), messages as chat renders them.
   */
  void tokenize(RoutingContext ctx) {
    String model;
    CountTokensRequest.Builder req = CountTokensRequest.newBuilder().setWithIds(true);
    try {
      JsonObject body = ApiServer.jsonBody(ctx);
      model = Json.string(body, "model", true);
      req.setModel(model);
      if (body.getValue("messages") != null) {
        req.setMessages(Messages.newBuilder().addAllMessages(ChatRequestParsing.messages(body)));
        req.addAllTools(ChatRequestParsing.tools(body));
      } else {
        req.setPrompt(Json.string(body, "prompt", true));
      }
    } catch (ZhikuException e) {
      OpenAiError.send(ctx.response(), e);
      return;
    }
    chatModel(model).compose(v -> upstream.<CountTokensRequest, CountTokensReply>unary(model, WorkerGrpcClient.CountTokens, req.build()))
        .onFailure(err -> OpenAiError.send(ctx.response(), err))
        .onSuccess(reply -> ctx.json(new JsonObject().put("count", reply.getCount()).put("max_model_len", reply.getContextLength())
            .put("tokens", new JsonArray(List.copyOf(reply.getIdsList())))));
  }

  /** {@code {model, tokens}} → {@code {prompt}}: the text of the ids, special tokens skipped. */
  void detokenize(RoutingContext ctx) {
    String model;
    DetokenizeRequest.Builder req = DetokenizeRequest.newBuilder();
    try {
      JsonObject body = ApiServer.jsonBody(ctx);
      model = Json.string(body, "model", true);
      Object t = body.getValue("tokens");
      if (!(t instanceof JsonArray ids)) {
        throw ZhikuException.invalid("tokens", Json.typeMessage("tokens", t, "a list of token ids"));
      }
      for (int i = 0; i < ids.size(); i++) req.addIds((int) Json.boundedInteger(ids.getValue(i), "tokens[" + i + "]", 0, Integer.MAX_VALUE));
      req.setModel(model);
    } catch (ZhikuException e) {
      OpenAiError.send(ctx.response(), e);
      return;
    }
    chatModel(model).compose(v -> upstream.<DetokenizeRequest, DetokenizeReply>unary(model, WorkerGrpcClient.Detokenize, req.build()))
        .onFailure(err -> OpenAiError.send(ctx.response(), err))
        .onSuccess(reply -> ctx.json(new JsonObject().put("prompt", reply.getText())));
  }

  private Future<Void> chatModel(String model) {
    return upstream.model(model).map(card -> {
      if (card.getKind() != ModelKind.MODEL_KIND_CHAT) {
        throw ZhikuException.invalid("model", "The model `" + model + "` is an embedding model; it has no chat tokenizer to expose.");
      }
      return null;
    });
  }

  /** FastChat's /api/v1/token_check: {prompts:[{model, prompt, max_tokens}]} → {prompts:[{fits, tokenCount, contextLength}]}. */
  void tokenCheck(RoutingContext ctx) {

    JsonObject body;
    JsonArray prompts;
    try {
      body = ApiServer.jsonBody(ctx);
      Object p = body.getValue("prompts");
      if (!(p instanceof JsonArray arr) || arr.isEmpty()) {
        throw ZhikuException.invalid("prompts", "'prompts' must be a non-empty list of {model, prompt, max_tokens}");
      }
      prompts = arr;
      if (prompts.size() > GenerationHandlers.MAX_PROMPTS) {
        throw ZhikuException.invalid("prompts", "'prompts' takes at most " + GenerationHandlers.MAX_PROMPTS + " items, got " + prompts.size());
      }
      for (int i = 0; i < prompts.size(); i++) {
        if (!(prompts.getValue(i) instanceof JsonObject o)) {
          throw ZhikuException.invalid("prompts", "'prompts[" + i + "]' must be an object");
        }
        Json.string(o, "model", true);
        Json.string(o, "prompt", true);
        Json.integer(o, "max_tokens", 0, Integer.MAX_VALUE);
      }
    } catch (ZhikuException e) {
      OpenAiError.send(ctx.response(), e);
      return;
    }
    List<Future<JsonObject>> checks = new java.util.ArrayList<>();
    for (int i = 0; i < prompts.size(); i++) {
      JsonObject item = prompts.getJsonObject(i);
      String model = item.getString("model");
      Long given = Json.longValue(item, "max_tokens", 0, Integer.MAX_VALUE);
      long maxTokens = given == null ? 0 : given;
      checks.add(upstream.model(model).compose(card -> upstream.<CountTokensRequest, CountTokensReply>unary(model, WorkerGrpcClient.CountTokens,
              CountTokensRequest.newBuilder().setModel(model).setPrompt(item.getString("prompt")).build()))
          // long: a count near 2^31 plus max_tokens must not wrap to a negative that "fits"
          .map(reply -> new JsonObject().put("fits", (long) reply.getCount() + maxTokens <= reply.getContextLength())
              .put("tokenCount", reply.getCount()).put("contextLength", reply.getContextLength())));
    }
    Future.all(checks).onFailure(err -> OpenAiError.send(ctx.response(), err)).onSuccess(all -> {
      JsonArray out = new JsonArray();
      checks.forEach(f -> out.add(f.result()));
      ctx.json(new JsonObject().put("prompts", out));
    });
  }
}
