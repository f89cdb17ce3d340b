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
 * model label is only ever a model the controller reported (anything else becomes "unknown").
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

  private String model(String model) {
    return model != null && upstream.isKnownModel(model) ? model : "unknown";
  }

  public void request(String route, String model, int status, long startNanos) {
    String m = model(model);
    String s = Integer.toString(status);
    String key = route + '\0' + m + '\0' + s;
    requestCounts.computeIfAbsent(key, k -> registry.counter("zhiku.http.requests", "route", route, "model", m, "status", s))
        .increment();
    requestTimes.computeIfAbsent(key, k -> Timer.builder("zhiku.http.request.duration").tags("route", route, "model", m, "status", s)
            .publishPercentileHistogram().maximumExpectedValue(Duration.ofMinutes(5)).register(registry))
        .record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
  }

  public void ttft(String model, long nanos) {
    ttfts.computeIfAbsent(model(model), m -> Timer.builder("zhiku.ttft").description("Time to first token").tags("model", m)
            .publishPercentileHistogram().maximumExpectedValue(Duration.ofMinutes(2)).register(registry))
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  public void interToken(String model, long nanos) {
    interTokens.computeIfAbsent(model(model), m -> Timer.builder("zhiku.inter.token.latency")
            .description("Time between streamed tokens").tags("model", m)
            .publishPercentileHistogram().maximumExpectedValue(Duration.ofSeconds(30)).register(registry))
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  public void tokens(String model, int prompt, int completion) {
    String m = model(model);
    registry.counter("zhiku.prompt.tokens", "model", m).increment(prompt);
    registry.counter("zhiku.completion.tokens", "model", m).increment(completion);
  }

  public void streamOpened(String model) {
    gauge(model).incrementAndGet();
  }

  public void streamClosed(String model) {
    gauge(model).decrementAndGet();
  }

  private AtomicInteger gauge(String model) {
    return openStreams.computeIfAbsent(model(model), m -> registry.gauge("zhiku.open.streams",
        io.micrometer.core.instrument.Tags.of("model", m), new AtomicInteger()));
  }

  public void authFailure() {
    authFailures.increment();
  }

  public void kbSearch(String mode, long nanos, int results) {
    Timer.builder("zhiku.kb.search.duration").tags("mode", mode).publishPercentileHistogram()
        .maximumExpectedValue(Duration.ofSeconds(30)).register(registry).record(nanos, TimeUnit.NANOSECONDS);
    registry.summary("zhiku.kb.search.results", "mode", mode).record(results);
  }
}
