package ai.zhiku.api.kb;

import ai.zhiku.api.Upstream;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.kb.Embedder;
import ai.zhiku.protocol.EmbedInput;
import ai.zhiku.protocol.EmbedReply;
import ai.zhiku.protocol.EmbedRequest;
import ai.zhiku.protocol.WorkerGrpcClient;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The kb library's {@link Embedder} over the Embed gRPC call to an embedding worker. Blocking: the
 * kb library runs on a worker pool, never on an event loop. Long lists go in slices so one upload
 * does not hold a worker's whole batch.
 */
final class GrpcEmbedder implements Embedder {
  private static final int SLICE = 64;

  private final Upstream upstream;
  private final String model;
  private final int dimension;

  GrpcEmbedder(Upstream upstream, String model, int dimension) {
    this.upstream = upstream;
    this.model = model;
    this.dimension = dimension;
  }

  @Override
  public List<float[]> embed(List<String> texts, boolean query) {
    List<float[]> out = new ArrayList<>(texts.size());
    for (int from = 0; from < texts.size(); from += SLICE) {
      EmbedRequest.Builder b = EmbedRequest.newBuilder().setModel(model).setQuery(query).setTruncate(true);
      for (String t : texts.subList(from, Math.min(texts.size(), from + SLICE))) {
        b.addInputs(EmbedInput.newBuilder().setText(t.isEmpty() ? " " : t));
      }
      EmbedReply reply = await(upstream.<EmbedRequest, EmbedReply>unary(model, WorkerGrpcClient.Embed, b.build()));
      reply.getEmbeddingsList().forEach(e -> {
        float[] v = new float[e.getValuesCount()];
        for (int i = 0; i < v.length; i++) {
          v[i] = e.getValues(i);
        }
        out.add(v);
      });
    }
    return out;
  }

  @Override
  public int dimension() {
    return dimension;
  }

  static <T> T await(io.vertx.core.Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(5, TimeUnit.MINUTES);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof ZhikuException z) {
        throw z;
      }
      throw ZhikuException.unavailable("embedding failed: " + e.getCause());
    } catch (TimeoutException e) {
      throw ZhikuException.unavailable("the embedding worker did not answer in time");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ZhikuException.unavailable("interrupted");
    }
  }
}
