package ai.zhiku.api;

import ai.zhiku.common.Metrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The api-server's meters. Labels stay bounded: routes are a fixed set, status is a number, and a
 * model label is only ever a model the controller reported (anything else becomes "unknown", and a
 * request that names no model, such as /v1/models, is "none"). Histograms have a dozen buckets each.
 */
public final class ApiMetrics {
  private final MeterRegistry registry = Metrics.registry();
  private final Upstream upstream;
  private final Counter authFailures;
  private final Map<String, AtomicInteger> openStreams = new ConcurrentHashMap<>();
  // meters by their label values: building and looking up a meter on every request (and on every
  // streamed token, for inter-token latency) allocated ids and tag arrays each time
  private final Map<String, Counter> requestCounts = new ConcurrentHashMap<>();
  private final Map<String, Timer> requestTimes = new ConcurrentHashMap<>();
  private final Map<String, Timer> ttfts = new ConcurrentHashMap<>();
  private final Map<String, Timer> interTokens = new ConcurrentHashMap<>();

  ApiMetrics(Upstream upstream) {
    this.upstream = upstream;
    this.authFailures = Counter.builder("zhiku.auth.failures").description("Requests refused for a missing or wrong API key").register(registry);
    io.micrometer.core.instrument.Gauge.builder("zhiku.streams.paused", upstream, Upstream::pausedStreams)
        .description("Streams whose worker reply is paused because their client reads slower than the model writes").register(registry);
  }

  /** "none" for requests that name no model (/v1/models, a body without one), "unknown" for a model not served. */
  private String model(String model) {
    if (model == null || model.isEmpty()) {
      return "none";
    }
    return upstream.isKnownModel(model) ? model : "unknown";
  }

  // Bucket bounds per metric, in seconds: a dozen each, spanning what the metric can take
  private static final Duration[] REQUEST_BUCKETS = seconds(0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300);
  private static final Duration[] TTFT_BUCKETS = seconds(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60);
  private static final Duration[] ITL_BUCKETS = seconds(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5);
  private static final Duration[] KB_BUCKETS = seconds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10);

  private static Duration[] seconds(double... bounds) {
    Duration[] out = new Duration[bounds.length];
    for (int i = 0; i < bounds.length; i++) {
      out[i] = Duration.ofNanos(Math.round(bounds[i] * 1e9));
    }
    return out;
  }

  public void request(String route, String model, int status, long startNanos) {
    String m = model(model);
    String s = Integer.toString(status);
    String key = route + '\0' + m + '\0' + s;
    requestCounts.computeIfAbsent(key, k -> Counter.builder("zhiku.http.requests").description("HTTP requests by route, model and status")
            .tags("route", route, "model", m, "status", s).register(registry))
        .increment();
    requestTimes.computeIfAbsent(key, k -> Timer.builder("zhiku.http.request.duration")
            .description("End-to-end time of HTTP requests (until the last byte of a stream), by route, model and status")
            .tags("route", route, "model", m, "status", s).serviceLevelObjectives(REQUEST_BUCKETS).register(registry))
        .record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
  }

  public void ttft(String model, long nanos) {
    ttfts.computeIfAbsent(model(model), m -> Timer.builder("zhiku.ttft")
            .description("Time from request to first token (streaming: first chunk with text; otherwise the first token the worker sent)")
            .tags("model", m).serviceLevelObjectives(TTFT_BUCKETS).register(registry))
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  public void interToken(String model, long nanos) {
    interTokens.computeIfAbsent(model(model), m -> Timer.builder("zhiku.inter.token.latency")
            .description("Time between streamed tokens").tags("model", m)
            .serviceLevelObjectives(ITL_BUCKETS).register(registry))
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  public void tokens(String model, int prompt, int completion) {
    String m = model(model);
    Counter.builder("zhiku.prompt.tokens").description("Prompt tokens of served requests").tags("model", m).register(registry)
        .increment(prompt);
    Counter.builder("zhiku.completion.tokens").description("Generated tokens of served requests").tags("model", m).register(registry)
        .increment(completion);
  }

  public void streamOpened(String model) {
    gauge(model).incrementAndGet();
  }

  public void streamClosed(String model) {
    gauge(model).decrementAndGet();
  }

  private AtomicInteger gauge(String model) {
    return openStreams.computeIfAbsent(model(model), m -> {
      AtomicInteger n = new AtomicInteger();
      io.micrometer.core.instrument.Gauge.builder("zhiku.open.streams", n, AtomicInteger::get).description("Streaming responses open now")
          .tags("model", m).register(registry);
      return n;
    });
  }

  public void authFailure() {
    authFailures.increment();
  }

  public void kbSearch(String mode, long nanos, int results) {
    Timer.builder("zhiku.kb.search.duration").description("Knowledge-base search time by mode").tags("mode", mode)
        .serviceLevelObjectives(KB_BUCKETS).register(registry).record(nanos, TimeUnit.NANOSECONDS);
    io.micrometer.core.instrument.DistributionSummary.builder("zhiku.kb.search.results").description("Chunks returned per search")
        .tags("mode", mode).register(registry).record(results);
  }
}
