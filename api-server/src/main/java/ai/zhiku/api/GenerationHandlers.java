package ai.zhiku.api;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.protocol.ChatMessage;
import ai.zhiku.protocol.GenerateRequest;
import ai.zhiku.protocol.Messages;
import ai.zhiku.protocol.ModelCard;
import ai.zhiku.protocol.ModelKind;
import ai.zhiku.protocol.SamplingParams;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** POST /v1/chat/completions and POST /v1/completions, non-streaming and streaming. */
final class GenerationHandlers {
  /** The most choices (n, best_of) one request may ask for: each is a sequence decoded on a worker. */
  static final int MAX_N = 16;
  /** The most prompts in one completions request (OpenAI's limit for prompt lists). */
  static final int MAX_PROMPTS = 2048;
  /** The most generations one request fans out to (prompts times n). */
  static final int MAX_CHOICES = ai.zhiku.common.GrpcLimits.MAX_GENERATIONS;

  private final Upstream upstream;
  private final ApiMetrics metrics;
  private final KnowledgeAugmenter kb;

  GenerationHandlers(Upstream upstream, ApiMetrics metrics, KnowledgeAugmenter kb) {
    this.upstream = upstream;
    this.metrics = metrics;
    this.kb = kb;
  }

  /** What both endpoints share once the body is parsed. */
  private record Parsed(String model, List<GenerateRequest> requests, int n, boolean stream, boolean includeUsage,
                        List<String> echoPrefixes, Integer maxTokens, boolean logprobs) {}

  // ------------------------------------------------------------------ chat

  void chat(RoutingContext ctx) {
    long start = System.nanoTime();
    JsonObject body;
    try {
      body = ApiServer.jsonBody(ctx);
    } catch (ZhikuException e) {
      OpenAiError.send(ctx.response(), e);
      return;
    }
    String model;
    List<ChatMessage> messages;
    SamplingParams sampling;
    int n;
    boolean stream;
    boolean includeUsage;
    String kbName;
    Integer kbTopK;
    Float kbThreshold;
    List<ai.zhiku.protocol.Tool> tools;
    ai.zhiku.protocol.ToolChoice toolChoice;
    ai.zhiku.protocol.ResponseFormat format;
    Integer logprobs;
    java.util.Map<Integer, Float> logitBias;
    try {
      model = Json.string(body, "model", true);
      messages = ChatRequestParsing.messages(body);
      tools = ChatRequestParsing.tools(body);
      toolChoice = ChatRequestParsing.toolChoice(body, tools);
      format = ChatRequestParsing.responseFormat(body);
      logprobs = ChatRequestParsing.chatLogprobs(body);
      logitBias = ChatRequestParsing.logitBias(body);
      kbName = knowledgeBaseName(ctx, body);
      if (kbName != null) {
        Access.of(ctx).require(Scope.kbRead(kbName));
      }
      kbTopK = kbName == null ? null : kbTopK(ctx, body);
      kbThreshold = kbName == null ? null : kbThreshold(ctx, body);
      sampling = parseSampling(body, kbName == null);
      n = intOr(Json.integer(body, "n", 1, MAX_N), 1);
      stream = Json.bool(body, "stream", false);
      includeUsage = streamUsage(body, stream);
      Json.string(body, "user", false);
    } catch (ZhikuException e) {
      fail(ctx, "chat_completions", null, e, start);
      return;
    }
    String id = "chatcmpl-" + UUID.randomUUID().toString().replace("-", "");
    ChoiceRunner runner = watchClient(ctx);
    upstream.model(model).compose(card -> {
      requireKind(card, ModelKind.MODEL_KIND_CHAT, model);
      checkMaxTokens(card, sampling);
      if (kbName == null) {
        return Future.succeededFuture((KnowledgeAugmenter.Augmented) null);
      }
      if (kb == null) {
        return Future.failedFuture(ZhikuException.invalid("knowledge_base", "knowledge bases are not enabled on this server"));
      }
      String question = lastUserMessage(messages);
      return kb.augment(kbName, question, kbTopK, kbThreshold);
    }).onFailure(err -> fail(ctx, "chat_completions", model, err, start)).onSuccess(augmented -> {
      List<ChatMessage> finalMessages = augmented == null ? messages : replaceLastUser(messages, augmented.prompt());
      GenerateRequest.Builder rb = GenerateRequest.newBuilder().setModel(model).setRequestId(id)
          .setMessages(Messages.newBuilder().addAllMessages(finalMessages)).setSampling(sampling).setN(n)
          .addAllTools(tools).setToolChoice(toolChoice).setResponseFormat(format).putAllLogitBias(logitBias);
      if (logprobs != null) {
        rb.setLogprobs(logprobs);
      }
      GenerateRequest req = rb.build();
      List<GenerateRequest> requests = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        requests.add(forChoice(req, i));
      }
      Parsed p = new Parsed(model, requests, n, stream, includeUsage, null, sampling.hasMaxTokens() ? sampling.getMaxTokens() : null,
          logprobs != null);
      respond(ctx, runner, p, id, true, augmented == null ? null : augmented.sources(), start);
    });
  }

  /**
   * The runner of this request's generations, cancelled as soon as the client goes: registered
   * before anything asynchronous (model lookup, knowledge-base retrieval, dispatch), so a client
   * that sends and closes at once is seen whenever it closes. A runner cancelled before it starts
   * never dispatches anything.
   */
  private static ChoiceRunner watchClient(RoutingContext ctx) {
    ChoiceRunner runner = new ChoiceRunner();
    HttpServerResponse resp = ctx.response();
    resp.closeHandler(v -> runner.cancel());
    if (resp.closed()) {
      runner.cancel();
    }
    return runner;
  }

  /**
   * Choice {@code index}'s request: with a seed, each choice samples from its own stream derived
   * from (seed, index), so the n choices differ and the same request repeated gives the same
   * choices; choice 0 keeps the seed itself, so n = 1 is as before.
   */
  static GenerateRequest forChoice(GenerateRequest req, int index) {
    if (index == 0 || !req.getSampling().hasSeed()) {
      return req;
    }
    long seed = choiceSeed(req.getSampling().getSeed(), index);
    return req.toBuilder().setSampling(req.getSampling().toBuilder().setSeed(seed)).build();
  }

  /** SplitMix64's finalizer over seed + index * golden ratio: distinct, well-mixed seeds per choice. */
  static long choiceSeed(long seed, int index) {
    if (index == 0) {
      return seed;
    }
    long z = seed + index * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Answers an error before any generation started, and counts the request. */
  private void fail(RoutingContext ctx, String route, String model, Throwable err, long start) {
    ZhikuException e = OpenAiError.wrap(err);
    OpenAiError.send(ctx.response(), e);
    metrics.request(route, model, e.kind().httpStatus(), start);
  }

  private void respond(RoutingContext ctx, ChoiceRunner runner, Parsed p, String id, boolean chat, JsonArray sources, long start) {
    if (runner.cancelled()) {
      return; // the client has gone: nothing to generate for
    }
    if (p.stream()) {
      streamResponse(ctx, runner, p, id, chat, sources, start);
    } else {
      collectResponse(ctx, runner, p, id, chat, sources, start);
    }
  }

  private static String lastUserMessage(List<ChatMessage> messages) {
    for (int i = messages.size() - 1; i >= 0; i--) {
      if (messages.get(i).getRole().equals("user")) {
        return messages.get(i).getContent();
      }
    }
    throw ZhikuException.invalid("messages", "a chat naming a knowledge base needs a user message to search for");
  }

  private static List<ChatMessage> replaceLastUser(List<ChatMessage> messages, String prompt) {
    List<ChatMessage> out = new ArrayList<>(messages);
    for (int i = out.size() - 1; i >= 0; i--) {
      if (out.get(i).getRole().equals("user")) {
        out.set(i, out.get(i).toBuilder().setContent(prompt).build());
        break;
      }
    }
    return out;
  }

  private static String knowledgeBaseName(RoutingContext ctx, JsonObject body) {
    Object v = body.getValue("knowledge_base");
    if (v instanceof JsonObject o) {
      return Json.string(o, "name", true);
    }
    if (v != null && !(v instanceof String)) {
      throw ZhikuException.invalid("knowledge_base", Json.typeMessage("knowledge_base", v, "a string or an object"));
    }
    String name = (String) v;
    if (name == null) {
      name = ctx.request().getHeader("x-knowledge-base");
    }
    return name == null || name.isBlank() ? null : name;
  }

  private static Integer kbTopK(RoutingContext ctx, JsonObject body) {
    JsonObject o = body.getValue("knowledge_base") instanceof JsonObject j ? j : body;
    Integer k = Json.integer(o, "top_k", 1, 100);
    String header = ctx.request().getHeader("x-knowledge-base-top-k");
    if (k == null && header != null) {
      java.math.BigInteger parsed;
      try {
        parsed = new java.math.BigInteger(header.trim());
      } catch (NumberFormatException e) {
        throw ZhikuException.invalid("x-knowledge-base-top-k", "the X-Knowledge-Base-Top-K header must be an integer");
      }
      k = (int) Json.boundedInteger(parsed, "x-knowledge-base-top-k", 1, 100);
    }
    return k;
  }

  private static Float kbThreshold(RoutingContext ctx, JsonObject body) {
    JsonObject o = body.getValue("knowledge_base") instanceof JsonObject j ? j : body;
    Float t = Json.number(o, "score_threshold", 0, 1);
    String h = ctx.request().getHeader("x-knowledge-base-score-threshold");
    if (t == null && h != null) {
      try {
        t = Float.parseFloat(h.trim());
      } catch (NumberFormatException e) {
        throw ZhikuException.invalid("x-knowledge-base-score-threshold", "the X-Knowledge-Base-Score-Threshold header must be a number");
      }
    }
    return t;
  }

  // ------------------------------------------------------------------ completions

  void completions(RoutingContext ctx) {
    long start = System.nanoTime();
    String model;
    List<Object> prompts;
    SamplingParams sampling;
    Integer logprobs;
    java.util.Map<Integer, Float> logitBias;
    int n;
    boolean stream;
    boolean includeUsage;
    boolean echo;
    try {
      JsonObject body = ApiServer.jsonBody(ctx);
      model = Json.string(body, "model", true);
      prompts = parsePrompts(body);
      sampling = parseSampling(body, true);
      n = intOr(Json.integer(body, "n", 1, MAX_N), 1);
      Integer bestOf = Json.integer(body, "best_of", 1, MAX_N);
      if (bestOf != null && bestOf != n) {
        throw ZhikuException.invalid("best_of", "best_of other than n is not supported");
      }
      if ((long) prompts.size() * n > MAX_CHOICES) {
        throw ZhikuException.invalid("n", prompts.size() + " prompts with n = " + n + " make " + prompts.size() * n
            + " generations; one request may make at most " + MAX_CHOICES + ".");
      }
      stream = Json.bool(body, "stream", false);
      includeUsage = streamUsage(body, stream);
      echo = Json.bool(body, "echo", false);
      logprobs = Json.integer(body, "logprobs", 0, ChatRequestParsing.MAX_TOP_LOGPROBS);
      logitBias = ChatRequestParsing.logitBias(body);
      Json.string(body, "suffix", false);
      Json.string(body, "user", false);
    } catch (ZhikuException e) {
      fail(ctx, "completions", null, e, start);
      return;
    }
    String id = "cmpl-" + UUID.randomUUID().toString().replace("-", "");
    ChoiceRunner runner = watchClient(ctx);
    upstream.model(model).onFailure(err -> fail(ctx, "completions", model, err, start)).onSuccess(card -> {
      try {
        requireKind(card, ModelKind.MODEL_KIND_CHAT, model);
        checkMaxTokens(card, sampling);
      } catch (ZhikuException e) {
        fail(ctx, "completions", model, e, start);
        return;
      }
      List<GenerateRequest> requests = new ArrayList<>();
      List<String> echoes = new ArrayList<>();
      for (Object prompt : prompts) {
        GenerateRequest.Builder rb = GenerateRequest.newBuilder().setModel(model).setRequestId(id)
            .setSampling(sampling).setN(n).putAllLogitBias(logitBias);
        if (prompt instanceof String text) {
          rb.setPrompt(text);
        } else {
          rb.setPromptIds((ai.zhiku.protocol.TokenIds) prompt);
        }
        if (logprobs != null) {
          rb.setLogprobs(logprobs);
        }
        // with logprobs the worker echoes the prompt itself, after the prompt tokens' logprobs
        boolean workerEchoes = echo && logprobs != null;
        rb.setEcho(workerEchoes);
        GenerateRequest req = rb.build();
        for (int i = 0; i < n; i++) {
          requests.add(forChoice(req, i));
          echoes.add(echo && !workerEchoes ? (prompt instanceof String text ? text : null) : null);
        }
      }
      Parsed p = new Parsed(model, requests, n, stream, includeUsage, echoes, sampling.hasMaxTokens() ? sampling.getMaxTokens() : null,
          logprobs != null);
      respond(ctx, runner, p, id, false, null, start);
    });
  }

  /**
   * The prompts of a completions request: a string, a list of strings, a list of token ids, or a list
   * of such lists (token-id prompts become {@link ai.zhiku.protocol.TokenIds}).
   */
  private static List<Object> parsePrompts(JsonObject body) {
    Object v = body.getValue("prompt");
    if (v == null) {
      throw ZhikuException.invalid("prompt", "'prompt' is a required property");
    }
    if (v instanceof String s) {
      return List.of(s);
    }
    if (v instanceof JsonArray a && !a.isEmpty()) {
      if (a.getValue(0) instanceof Number) {
        return List.of(tokenIds(a, "prompt"));
      }
      if (a.size() > MAX_PROMPTS) {
        throw ZhikuException.invalid("prompt", "'prompt' takes at most " + MAX_PROMPTS + " prompts, got " + a.size());
      }
      List<Object> out = new ArrayList<>();
      for (int i = 0; i < a.size(); i++) {
        Object o = a.getValue(i);
        if (o instanceof String s) {
          out.add(s);
        } else if (o instanceof JsonArray ids && !ids.isEmpty()) {
          out.add(tokenIds(ids, "prompt[" + i + "]"));
        } else {
          throw ZhikuException.invalid("prompt", "'prompt' must be a string, a list of strings, a list of token ids or a list of such lists");
        }
      }
      return out;
    }
    throw ZhikuException.invalid("prompt", Json.typeMessage("prompt", v, "a string or a non-empty list of strings or token ids"));
  }

  private static ai.zhiku.protocol.TokenIds tokenIds(JsonArray a, String where) {
    ai.zhiku.protocol.TokenIds.Builder b = ai.zhiku.protocol.TokenIds.newBuilder();
    for (int i = 0; i < a.size(); i++) {
      Object o = a.getValue(i);
      if (!(o instanceof Number)) {
        throw ZhikuException.invalid(where, "'" + where + "' mixes token ids with other values");
      }
      b.addIds((int) Json.boundedInteger(o, where + "[" + i + "]", 0, Integer.MAX_VALUE));
    }
    return b.build();
  }

  // ------------------------------------------------------------------ shared parsing

  private static SamplingParams parseSampling(JsonObject body, boolean topKIsSampling) {
    SamplingParams.Builder b = SamplingParams.newBuilder();
    Float temperature = Json.number(body, "temperature", 0, 2);
    if (temperature != null) {
      b.setTemperature(temperature);
    }
    Float topP = Json.number(body, "top_p", 0, 1);
    if (topP != null) {
      b.setTopP(topP);
    }
    if (topKIsSampling) {
      Integer topK = Json.integer(body, "top_k", -1, Integer.MAX_VALUE);
      if (topK != null && topK > 0) {
        b.setTopK(topK);
      }
    }
    Integer maxTokens = Json.integer(body, "max_completion_tokens", 1, Integer.MAX_VALUE);
    Integer legacyMax = Json.integer(body, "max_tokens", 1, Integer.MAX_VALUE);
    if (maxTokens == null) {
      maxTokens = legacyMax;
    }
    if (maxTokens != null) {
      b.setMaxTokens(maxTokens);
    }
    b.addAllStop(Json.stop(body));
    Float presence = Json.number(body, "presence_penalty", -2, 2);
    if (presence != null) {
      b.setPresencePenalty(presence);
    }
    Float frequency = Json.number(body, "frequency_penalty", -2, 2);
    if (frequency != null) {
      b.setFrequencyPenalty(frequency);
    }
    Float repetition = Json.number(body, "repetition_penalty", 0.01, 10);
    if (repetition != null) {
      b.setRepetitionPenalty(repetition);
    }
    Long seed = Json.longValue(body, "seed", Long.MIN_VALUE, Long.MAX_VALUE);
    if (seed != null) {
      b.setSeed(seed);
    }
    return b.build();
  }

  private static boolean streamUsage(JsonObject body, boolean stream) {
    JsonObject opts = Json.object(body, "stream_options");
    if (opts == null) {
      return false;
    }
    if (!stream) {
      throw ZhikuException.invalid("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
    }
    return Json.bool(opts, "include_usage", false);
  }

  private static void requireKind(ModelCard card, ModelKind kind, String model) {
    if (card.getKind() != kind) {
      throw ZhikuException.invalid("model", kind == ModelKind.MODEL_KIND_CHAT
          ? "The model `" + model + "` is an embedding model; it cannot generate text. Use /v1/embeddings."
          : "The model `" + model + "` is a chat model; it does not produce embeddings.");
    }
  }

  private static void checkMaxTokens(ModelCard card, SamplingParams sampling) {
    if (sampling.hasMaxTokens() && card.getContextLength() > 0 && sampling.getMaxTokens() > card.getContextLength()) {
      throw ZhikuException.contextLength("This model's maximum context length is " + card.getContextLength()
          + " tokens. However, you requested " + sampling.getMaxTokens() + " tokens for the completion alone. Please reduce max_tokens.");
    }
  }

  private static int intOr(Integer v, int def) {
    return v == null ? def : v;
  }

  // ------------------------------------------------------------------ responses

  private void collectResponse(RoutingContext ctx, ChoiceRunner runner, Parsed p, String id, boolean chat, JsonArray sources, long start) {
    int count = p.requests().size();
    StringBuilder[] texts = new StringBuilder[count];
    String[] reasons = new String[count];
    int[] prompt = new int[count];
    int[] completion = new int[count];
    @SuppressWarnings("unchecked")
    List<ai.zhiku.protocol.ToolCall>[] calls = new List[count];
    @SuppressWarnings("unchecked")
    List<ai.zhiku.protocol.TokenLogprob>[] logprobs = new List[count];
    int[] echoLength = new int[count];
    for (int i = 0; i < count; i++) {
      texts[i] = new StringBuilder(p.echoPrefixes() != null && p.echoPrefixes().get(i) != null ? p.echoPrefixes().get(i) : "");
      echoLength[i] = texts[i].length();
      logprobs[i] = new ArrayList<>();
    }
    String route = chat ? "chat_completions" : "completions";
    boolean[] firstToken = {true};
    runner.start(upstream, p.model(), p.requests(), new ChoiceRunner.Events() {
      @Override
      public void onText(int index, String text, int tokens, List<ai.zhiku.protocol.TokenLogprob> lps) {
        texts[index].append(text);
        logprobs[index].addAll(lps);
        if (tokens > 0 && firstToken[0]) { // time to first token, as streaming requests record it
          firstToken[0] = false;
          metrics.ttft(p.model(), System.nanoTime() - start);
        }
      }

      @Override
      public void onFinish(int index, String finishReason, int promptTokens, int completionTokens, List<ai.zhiku.protocol.ToolCall> toolCalls) {
        reasons[index] = finishReason;
        calls[index] = toolCalls;
        prompt[index] = promptTokens;
        completion[index] = completionTokens;
      }

      @Override
      public void onError(ZhikuException error) {
        OpenAiError.send(ctx.response(), error);
        metrics.request(route, p.model(), error.kind().httpStatus(), start);
      }

      @Override
      public void onComplete() {
        JsonArray choices = new JsonArray();
        for (int i = 0; i < count; i++) {
          JsonObject choice = new JsonObject().put("index", i);
          boolean called = calls[i] != null && !calls[i].isEmpty();
          if (chat) {
            JsonObject message = new JsonObject().put("role", "assistant")
                .put("content", called && texts[i].isEmpty() ? null : texts[i].toString()).putNull("refusal");
            if (called) {
              message.put("tool_calls", OpenAiChoices.toolCalls(calls[i]));
            }
            choice.put("message", message);
          } else {
            choice.put("text", texts[i].toString());
          }
          if (!p.logprobs()) {
            choice.putNull("logprobs");
          } else if (chat) {
            choice.put("logprobs", OpenAiChoices.chatLogprobs(OpenAiChoices.chatContent(logprobs[i])));
          } else {
            choice.put("logprobs", OpenAiChoices.completionLogprobs(logprobs[i], echoLength[i]));
          }
          choice.put("finish_reason", reasons[i] == null ? "stop" : reasons[i]);
          choices.add(choice);
        }
        int promptTokens = sumPromptTokens(prompt, p.n());
        int completionTokens = java.util.Arrays.stream(completion).sum();
        JsonObject out = new JsonObject().put("id", id).put("object", chat ? "chat.completion" : "text_completion")
            .put("created", System.currentTimeMillis() / 1000).put("model", p.model()).put("choices", choices)
            .put("usage", usage(promptTokens, completionTokens)).putNull("system_fingerprint");
        if (sources != null) {
          out.put("sources", sources);
        }
        metrics.tokens(p.model(), promptTokens, completionTokens);
        ctx.response().putHeader("content-type", "application/json").end(out.encode());
        metrics.request(route, p.model(), 200, start);
      }
    });
  }

  /** The prompt is counted once per distinct prompt, as OpenAI does for n > 1. */
  private static int sumPromptTokens(int[] prompt, int n) {
    int total = 0;
    for (int i = 0; i < prompt.length; i += n) {
      total += prompt[i];
    }
    return total;
  }

  private static JsonObject usage(int promptTokens, int completionTokens) {
    return new JsonObject().put("prompt_tokens", promptTokens).put("completion_tokens", completionTokens)
        .put("total_tokens", promptTokens + completionTokens);
  }

  private void streamResponse(RoutingContext ctx, ChoiceRunner runner, Parsed p, String id, boolean chat, JsonArray sources, long start) {
    HttpServerResponse resp = ctx.response();
    String route = chat ? "chat_completions" : "completions";
    String object = chat ? "chat.completion.chunk" : "text_completion";
    long created = System.currentTimeMillis() / 1000;
    int count = p.requests().size();
    boolean[] roleSent = new boolean[count];
    int[] prompt = new int[count];
    int[] completion = new int[count];
    long[] lastTokenAt = new long[count];
    boolean[] headersSent = new boolean[1];
    boolean[] draining = new boolean[1];
    metrics.streamOpened(p.model());
    boolean[] closed = new boolean[1];
    Runnable closeOnce = () -> {
      if (!closed[0]) {
        closed[0] = true;
        metrics.streamClosed(p.model());
      }
    };
    // replaces watchClient's handler on this same event loop: a close either came before (and the
    // runner is cancelled already, see respond) or comes to this one
    resp.closeHandler(v -> {
      runner.cancel();
      closeOnce.run();
    });

    java.util.function.Supplier<JsonObject> base = () -> {
      JsonObject o = new JsonObject().put("id", id).put("object", object).put("created", created).put("model", p.model())
          .putNull("system_fingerprint");
      if (p.includeUsage()) {
        o.putNull("usage");
      }
      return o;
    };
    java.util.function.Consumer<JsonObject> send = json -> {
      if (!headersSent[0]) {
        headersSent[0] = true;
        resp.setChunked(true).putHeader("content-type", "text/event-stream; charset=utf-8")
            .putHeader("cache-control", "no-cache").putHeader("x-accel-buffering", "no");
      }
      if (!resp.closed()) {
        resp.write("data: " + json.encode() + "\n\n");
        // backpressure: a client that reads slower than the model writes pauses the workers' replies
        // (HTTP/2 flow control then holds the worker back) until what it was sent has drained
        if (resp.writeQueueFull()) {
          runner.pause();
          if (!draining[0]) {
            draining[0] = true;
            resp.drainHandler(v -> {
              draining[0] = false;
              runner.resume();
            });
          }
        }
      }
    };
    java.util.function.BiFunction<Integer, JsonObject, JsonObject> chatChoice = (index, delta) ->
        new JsonObject().put("index", index).put("delta", delta).putNull("logprobs").putNull("finish_reason");
    int[] textOffset = new int[count]; // completions: characters of each choice's text sent so far

    // A choice's first event (the role chunk, or the echoed prompt) goes out with its first output, not
    // before: until a worker has produced something, a failure (context length, overload, no worker) can
    // still be answered with its HTTP status instead of an error inside a 200 stream.
    java.util.function.IntConsumer open = i -> {
      if (roleSent[i]) {
        return;
      }
      roleSent[i] = true;
      String echo = p.echoPrefixes() == null ? null : p.echoPrefixes().get(i);
      if (chat) {
        send.accept(base.get().put("choices", new JsonArray().add(chatChoice.apply(i, new JsonObject().put("role", "assistant").put("content", "")))));
      } else if (echo != null && !echo.isEmpty()) {
        send.accept(base.get().put("choices", new JsonArray().add(new JsonObject().put("index", i).put("text", echo).putNull("logprobs").putNull("finish_reason"))));
        textOffset[i] = echo.length();
      }
    };
    runner.start(upstream, p.model(), p.requests(), new ChoiceRunner.Events() {
      @Override
      public void onText(int index, String text, int tokens, List<ai.zhiku.protocol.TokenLogprob> lps) {
        open.accept(index);
        long now = System.nanoTime();
        if (lastTokenAt[index] == 0) {
          metrics.ttft(p.model(), now - start);
        } else {
          metrics.interToken(p.model(), now - lastTokenAt[index]);
        }
        lastTokenAt[index] = now;
        JsonObject choice = chat ? chatChoice.apply(index, new JsonObject().put("content", text))
            : new JsonObject().put("index", index).put("text", text).putNull("logprobs").putNull("finish_reason");
        if (p.logprobs()) {
          choice.put("logprobs", chat ? OpenAiChoices.chatLogprobs(OpenAiChoices.chatContent(lps))
              : OpenAiChoices.completionLogprobs(lps, textOffset[index]));
        }
        textOffset[index] += text.length();
        send.accept(base.get().put("choices", new JsonArray().add(choice)));
      }

      @Override
      public void onFinish(int index, String finishReason, int promptTokens, int completionTokens, List<ai.zhiku.protocol.ToolCall> calls) {
        open.accept(index);
        prompt[index] = promptTokens;
        completion[index] = completionTokens;
        if (chat) {
          for (JsonObject delta : OpenAiChoices.toolCallDeltas(calls)) {
            send.accept(base.get().put("choices", new JsonArray().add(chatChoice.apply(index, new JsonObject().put("tool_calls", new JsonArray().add(delta))))));
          }
        }
        JsonObject choice = chat ? chatChoice.apply(index, new JsonObject()).put("finish_reason", finishReason)
            : new JsonObject().put("index", index).put("text", "").putNull("logprobs").put("finish_reason", finishReason);
        JsonObject chunk = base.get().put("choices", new JsonArray().add(choice));
        if (sources != null) {
          chunk.put("sources", sources);
        }
        send.accept(chunk);
      }

      @Override
      public void onError(ZhikuException error) {
        metrics.request(route, p.model(), error.kind().httpStatus(), start);
        if (!headersSent[0]) {
          OpenAiError.send(resp, error);
        } else if (!resp.closed()) {
          resp.write("data: " + OpenAiError.body(error).encode() + "\n\ndata: [DONE]\n\n");
          resp.end();
        }
        closeOnce.run();
      }

      @Override
      public void onComplete() {
        int promptTokens = sumPromptTokens(prompt, p.n());
        int completionTokens = java.util.Arrays.stream(completion).sum();
        metrics.tokens(p.model(), promptTokens, completionTokens);
        if (p.includeUsage()) {
          send.accept(base.get().put("choices", new JsonArray()).put("usage", usage(promptTokens, completionTokens)));
        }
        if (!headersSent[0]) {
          send.accept(base.get().put("choices", new JsonArray()));
        }
        if (!resp.closed()) {
          resp.end("data: [DONE]\n\n");
        }
        metrics.request(route, p.model(), 200, start);
        closeOnce.run();
      }
    });
  }
}
