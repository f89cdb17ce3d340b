package ai.zhiku.api;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.protocol.EmbedInput;
import ai.zhiku.protocol.EmbedReply;
import ai.zhiku.protocol.EmbedRequest;
import ai.zhiku.protocol.ModelKind;
import ai.zhiku.protocol.TokenIds;
import ai.zhiku.protocol.WorkerGrpcClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** POST /v1/embeddings. */
final class EmbeddingsHandler {
  /** OpenAI's limit; the gRPC reply limit is sized so that this many vectors always fit. */
  static final int MAX_INPUTS = ai.zhiku.common.GrpcLimits.MAX_EMBEDDING_INPUTS;

  private final Upstream upstream;
  private final ApiMetrics metrics;

  EmbeddingsHandler(Upstream upstream, ApiMetrics metrics) {
    this.upstream = upstream;
    this.metrics = metrics;
  }

  void handle(RoutingContext ctx) {
    long start = System.nanoTime();
    String model;
    List<EmbedInput> inputs;
    boolean base64;
    Integer dimensions;
    boolean query;
    try {
      JsonObject body = ApiServer.jsonBody(ctx);
      model = Json.string(body, "model", true);
      inputs = parseInput(body.getValue("input"));
      String format = Json.string(body, "encoding_format", false);
      if (format != null && !format.equals("float") && !format.equals("base64")) {
        throw ZhikuException.invalid("encoding_format", "'" + format + "' is not one of ['float', 'base64'] - 'encoding_format'");
      }
      base64 = "base64".equals(format);
      dimensions = Json.integer(body, "dimensions", 1, Integer.MAX_VALUE);
      String inputType = Json.string(body, "input_type", false);
      query = "query".equals(inputType);
      Json.string(body, "user", false);
    } catch (ZhikuException e) {
      OpenAiError.send(ctx.response(), e);
      metrics.request("embeddings", null, e.kind().httpStatus(), start);
      return;
    }
    upstream.model(model).compose(card -> {
      if (card.getKind() != ModelKind.MODEL_KIND_EMBEDDING) {
        throw ZhikuException.invalid("model", "The model `" + model + "` is a chat model; it does not produce embeddings.");
      }
      if (dimensions != null && dimensions != card.getEmbeddingDimension()) {
        throw ZhikuException.invalid("dimensions", "The model `" + model + "` produces " + card.getEmbeddingDimension()
            + "-dimensional embeddings and cannot shorten them; 'dimensions' must be omitted or " + card.getEmbeddingDimension() + ".");
      }
      EmbedRequest req = EmbedRequest.newBuilder().setModel(model).addAllInputs(inputs).setQuery(query).build();
      return upstream.<EmbedRequest, EmbedReply>unary(model, WorkerGrpcClient.Embed, req);
    }).onFailure(err -> {
      OpenAiError.send(ctx.response(), err);
      metrics.request("embeddings", model, OpenAiError.wrap(err).kind().httpStatus(), start);
    }).onSuccess(reply -> {
      ctx.response().putHeader("content-type", "application/json").end(render(model, reply, base64));
      metrics.tokens(model, reply.getPromptTokens(), 0);
      metrics.request("embeddings", model, 200, start);
    });
  }

  static List<EmbedInput> parseInput(Object input) {
    if (input == null) {
      throw ZhikuException.invalid("input", "'input' is a required property");
    }
    List<EmbedInput> out = new ArrayList<>();
    if (input instanceof String s) {
      out.add(text(s, "input"));
      return out;
    }
    if (!(input instanceof JsonArray arr)) {
      throw ZhikuException.invalid("input", Json.typeMessage("input", input, "a string, a list of strings, or token ids"));
    }
    if (arr.isEmpty()) {
      throw ZhikuException.invalid("input", "'input' must not be an empty list");
    }
    Object first = arr.getValue(0);
    if (first instanceof Number) {
      out.add(tokens(arr, "input")); // one input given as token ids
      return out;
    }
    if (arr.size() > MAX_INPUTS) {
      throw ZhikuException.invalid("input", "'input' takes at most " + MAX_INPUTS + " items per request, got " + arr.size()
          + "; send the rest in another request.");
    }
    for (int i = 0; i < arr.size(); i++) {
      Object item = arr.getValue(i);
      String where = "input[" + i + "]";
      if (item instanceof String s) {
        out.add(text(s, where));
      } else if (item instanceof JsonArray ids) {
        out.add(tokens(ids, where));
      } else {
        throw ZhikuException.invalid("input", "'" + where + "' must be a string or a list of token ids");
      }
    }
    return out;
  }

  private static EmbedInput text(String s, String where) {
    if (s.isEmpty()) {
      throw ZhikuException.invalid("input", "'" + where + "' must not be an empty string");
    }
    return EmbedInput.newBuilder().setText(s).build();
  }

  private static EmbedInput tokens(JsonArray ids, String where) {
    if (ids.isEmpty()) {
      throw ZhikuException.invalid("input", "'" + where + "' must not be an empty list of token ids");
    }
    TokenIds.Builder b = TokenIds.newBuilder();
    for (Object o : ids) {
      long id;
      try {
        id = Json.boundedInteger(o, "input", 0, Integer.MAX_VALUE);
      } catch (ZhikuException e) {
        throw ZhikuException.invalid("input", "'" + where + "' must contain only non-negative integer token ids");
      }
      b.addIds((int) id);
    }
    return EmbedInput.newBuilder().setTokens(b).build();
  }

  static String render(String model, EmbedReply reply, boolean base64) {
    StringBuilder sb = new StringBuilder(reply.getEmbeddingsCount() * (base64 ? 2800 : 5000) + 128);
    sb.append("{\"object\":\"list\",\"data\":[");
    for (int i = 0; i < reply.getEmbeddingsCount(); i++) {
      List<Float> values = reply.getEmbeddings(i).getValuesList();
      if (i > 0) {
        sb.append(',');
      }
      sb.append("{\"object\":\"embedding\",\"index\":").append(i).append(",\"embedding\":");
      if (base64) {
        ByteBuffer buf = ByteBuffer.allocate(values.size() * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (Float f : values) {
          buf.putFloat(f);
        }
        sb.append('"').append(Base64.getEncoder().encodeToString(buf.array())).append('"');
      } else {
        sb.append('[');
        for (int j = 0; j < values.size(); j++) {
          if (j > 0) {
            sb.append(',');
          }
          sb.append(values.get(j).floatValue());
        }
        sb.append(']');
      }
      sb.append('}');
    }
    sb.append("],\"model\":").append(io.vertx.core.json.Json.encode(model))
        .append(",\"usage\":{\"prompt_tokens\":").append(reply.getPromptTokens())
        .append(",\"total_tokens\":").append(reply.getPromptTokens()).append("}}");
    return sb.toString();
  }
}
