package ai.zhiku.launcher.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A closed-loop HTTP load generator: {@code concurrency} connections each send the next request as
 * soon as the previous response ended, for a fixed time. Records latency, time to the first content
 * chunk and SSE chunk counts.
 */
final class LoadGenerator {

  record Result(int concurrency, long requests, long errors, double seconds, double p50Ms, double p99Ms,
                double firstChunkP50Ms, long chunks) {
    double rps() {
      return requests / seconds;
    }
  }

  static Result run(Vertx vertx, int port, String path, String body, int concurrency, double seconds, boolean stream) {
    HttpClient client = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true).setTcpNoDelay(true),
        new PoolOptions().setHttp1MaxSize(concurrency));
    long[] latencies = new long[4_000_000];
    long[] firsts = new long[4_000_000];
    AtomicLong count = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    AtomicLong chunks = new AtomicLong();
    long end = System.nanoTime() + (long) (seconds * 1e9);
    long start = System.nanoTime();
    Promise<Void> done = Promise.promise();
    AtomicLong running = new AtomicLong(concurrency);
    Buffer payload = Buffer.buffer(body);
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(port).setURI(path)
        .putHeader("content-type", "application/json");
    for (int c = 0; c < concurrency; c++) {
      vertx.runOnContext(v -> loop(client, options, payload, end, latencies, firsts, count, errors, chunks, stream, running, done));
    }
    done.future().toCompletionStage().toCompletableFuture().join();
    double elapsed = (System.nanoTime() - start) / 1e9;
    client.close();
    int n = (int) Math.min(count.get(), latencies.length);
    long[] lat = Arrays.copyOf(latencies, n);
    long[] first = Arrays.copyOf(firsts, n);
    Arrays.sort(lat);
    Arrays.sort(first);
    return new Result(concurrency, count.get(), errors.get(), elapsed, pct(lat, 0.5), pct(lat, 0.99), stream ? pct(first, 0.5) : 0,
        chunks.get());
  }

  private static double pct(long[] sorted, double p) {
    return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) (p * sorted.length))] / 1e6;
  }

  private static void loop(HttpClient client, RequestOptions options, Buffer payload, long end, long[] latencies, long[] firsts,
                           AtomicLong count, AtomicLong errors, AtomicLong chunks, boolean stream, AtomicLong running, Promise<Void> done) {
    if (System.nanoTime() > end) {
      if (running.decrementAndGet() == 0) {
        done.complete();
      }
      return;
    }
    long t0 = System.nanoTime();
    long[] first = {0};
    long[] events = {0};
    Future<Void> f = client.request(options).compose(req -> req.send(payload.copy())).compose(resp -> {
      if (resp.statusCode() != 200) {
        if (errors.incrementAndGet() == 1) {
          resp.body().onSuccess(b -> System.err.println("first error: HTTP " + resp.statusCode() + " " + b));
          return resp.end();
        }
      }
      if (stream) {
        resp.handler(buf -> {
          if (first[0] == 0) {
            first[0] = System.nanoTime();
          }
          // each SSE event ends with a blank line
          String s = buf.toString();
          int idx = -1;
          while ((idx = s.indexOf("\n\n", idx + 1)) >= 0) {
            events[0]++;
          }
        });
        return resp.end();
      }
      return resp.body().mapEmpty();
    });
    f.onComplete(ar -> {
      long now = System.nanoTime();
      if (ar.failed()) {
        errors.incrementAndGet();
      }
      int i = (int) count.getAndIncrement();
      if (i < latencies.length) {
        latencies[i] = now - t0;
        firsts[i] = first[0] == 0 ? 0 : first[0] - t0;
      }
      chunks.addAndGet(events[0]);
      loop(client, options, payload, end, latencies, firsts, count, errors, chunks, stream, running, done);
    });
  }
}
