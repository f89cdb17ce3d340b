package ai.zhiku.common;

import ai.zhiku.common.engine.EngineStats;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.function.DoubleSupplier;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * The series vLLM exports ({@code vllm:num_requests_running}, {@code vllm:time_to_first_token_seconds},
 * ...), with vLLM's names and its {@code model_name} label, so that dashboards and alerts written
 * for vLLM work on Zhiku unchanged. Micrometer cannot produce them: its Prometheus naming turns the
 * colon into an underscore. This small registry writes them in the Prometheus text format (0.0.4),
 * each with HELP and TYPE, after Micrometer's output ({@link Metrics#scrape()}).
 *
 * <p>Request series are recorded by the worker that runs the request (as a vLLM instance would);
 * engine series are read from {@link EngineStats} at scrape time.
 */
public final class VllmMetrics {
  static final double[] TTFT_BUCKETS = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  static final double[] ITL_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5};
  static final double[] E2E_BUCKETS = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300};
  /** The finished_reason values (vLLM's): stop (EOS or a stop string), length (max_tokens or the context), abort. */
  public static final List<String> FINISH_REASONS = List.of("stop", "length", "abort");

  private static final VllmMetrics INSTANCE = new VllmMetrics();

  private final Map<String, Family> families = new ConcurrentSkipListMap<>();

  private VllmMetrics() {
    gauge("vllm:num_requests_running", "Number of requests in model execution batches.");
    gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed (queued at the worker or in the engine).");
    gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.");
    counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.");
    counter("vllm:generation_tokens_total", "Number of generation tokens processed.");
    counter("vllm:request_success_total", "Count of successfully processed requests, by finished_reason (abort: cancelled).");
    counter("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.");
    counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.");
    counter("vllm:num_preemptions_total", "Cumulative number of preemptions from the engine.");
    histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS);
    histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL_BUCKETS);
    histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", E2E_BUCKETS);
  }

  public static VllmMetrics get() {
    return INSTANCE;
  }

  // ------------------------------------------------------------------ families

  private sealed interface Family permits Scalar, Histogram {
    String help();

    void write(String name, StringBuilder out);
  }

  /** A gauge or counter: one value per label set, stored or read at scrape time. */
  private record Scalar(String type, String help, Map<String, DoubleSupplier> children) implements Family {
    @Override
    public void write(String name, StringBuilder out) {
      header(out, name, help, type);
      children.forEach((labels, value) -> out.append(name).append(labels).append(' ').append(number(value.getAsDouble())).append('\n'));
    }
  }

  private record Histogram(String help, double[] buckets, Map<String, Series> children) implements Family {
    @Override
    public void write(String name, StringBuilder out) {
      header(out, name, help, "histogram");
      children.forEach((labels, s) -> {
        String inner = labels.isEmpty() ? "" : labels.substring(1, labels.length() - 1) + ",";
        long cumulative = 0;
        for (int i = 0; i < buckets.length; i++) {
          cumulative += s.counts.get(i);
          out.append(name).append("_bucket{").append(inner).append("le=\"").append(number(buckets[i])).append("\"} ")
              .append(cumulative).append('\n');
        }
        cumulative += s.counts.get(buckets.length);
        out.append(name).append("_bucket{").append(inner).append("le=\"+Inf\"} ").append(cumulative).append('\n');
        out.append(name).append("_sum").append(labels).append(' ').append(number(s.sum.sum())).append('\n');
        out.append(name).append("_count").append(labels).append(' ').append(cumulative).append('\n');
      });
    }
  }

  /** One histogram series: counts per bucket (the last is above every bound) and the sum. */
  static final class Series {
    private final double[] buckets;
    final AtomicLongArray counts;
    final DoubleAdder sum = new DoubleAdder();

    Series(double[] buckets) {
      this.buckets = buckets;
      this.counts = new AtomicLongArray(buckets.length + 1);
    }

    void observe(double v) {
      int i = 0;
      while (i < buckets.length && v > buckets[i]) {
        i++;
      }
      counts.incrementAndGet(i);
      sum.add(v);
    }
  }

  private void gauge(String name, String help) {
    families.put(name, new Scalar("gauge", help, new ConcurrentSkipListMap<>()));
  }

  private void counter(String name, String help) {
    families.put(name, new Scalar("counter", help, new ConcurrentSkipListMap<>()));
  }

  private void histogram(String name, String help, double[] buckets) {
    families.put(name, new Histogram(help, buckets, new ConcurrentSkipListMap<>()));
  }

  private Scalar scalar(String name) {
    return (Scalar) families.get(name);
  }

  private Series series(String name, String labels) {
    Histogram h = (Histogram) families.get(name);
    return h.children().computeIfAbsent(labels, l -> new Series(h.buckets()));
  }

  private DoubleAdder adder(String name, String labels) {
    Map<String, DoubleSupplier> children = scalar(name).children();
    DoubleSupplier s = children.get(labels);
    if (s instanceof Adder a) {
      return a.adder;
    }
    Adder created = new Adder(new DoubleAdder());
    DoubleSupplier prior = children.putIfAbsent(labels, created);
    return prior instanceof Adder a ? a.adder : created.adder;
  }

  private record Adder(DoubleAdder adder) implements DoubleSupplier {
    @Override
    public double getAsDouble() {
      return adder.sum();
    }
  }

  // ------------------------------------------------------------------ what the worker binds and records

  /**
   * The engine-side series of one served chat model, read at scrape time: running and waiting
   * requests ({@code queued}: requests waiting at the worker's admission gate, added to the engine's
   * own waiting sequences), KV cache usage, prefix cache queries and hits, preemptions. Also creates
   * the model's request series at zero, so every series exists before the first request.
   */
  public void bindEngine(String model, Supplier<EngineStats> stats, IntSupplier queued) {
    String l = labels(model);
    scalar("vllm:num_requests_running").children().put(l, () -> stats.get().running());
    scalar("vllm:num_requests_waiting").children().put(l, () -> stats.get().waiting() + queued.getAsInt());
    scalar("vllm:kv_cache_usage_perc").children().put(l, () -> {
      EngineStats s = stats.get();
      return s.kvBlocks() == 0 ? 0 : (double) s.kvBlocksUsed() / s.kvBlocks();
    });
    scalar("vllm:prefix_cache_queries_total").children().put(l, () -> stats.get().prefixQueryTokens());
    scalar("vllm:prefix_cache_hits_total").children().put(l, () -> stats.get().prefixHitTokens());
    scalar("vllm:num_preemptions_total").children().put(l, () -> stats.get().preemptions());
    adder("vllm:prompt_tokens_total", l);
    adder("vllm:generation_tokens_total", l);
    for (String reason : FINISH_REASONS) {
      adder("vllm:request_success_total", labels(model, reason));
    }
    series("vllm:time_to_first_token_seconds", l);
    series("vllm:inter_token_latency_seconds", l);
    series("vllm:e2e_request_latency_seconds", l);
  }

  /** Starts timing one request of {@code model}, from its arrival at the worker. */
  public Request request(String model) {
    return new Request(model, System.nanoTime());
  }

  /** One request's timing: its first token, the gaps between tokens, its end. Safe to call from the engine thread and the event loop. */
  public final class Request {
    private final String labels;
    private final String model;
    private final long start;
    private long last;
    private boolean finished;

    private Request(String model, long start) {
      this.model = model;
      this.labels = labels(model);
      this.start = start;
    }

    /** {@code tokens} new generated tokens arrived now (one engine step's worth). */
    public synchronized void tokens(int tokens) {
      if (tokens <= 0 || finished) {
        return;
      }
      long now = System.nanoTime();
      if (last == 0) {
        series("vllm:time_to_first_token_seconds", labels).observe((now - start) / 1e9);
        if (tokens > 1) {
          observeGaps(0, tokens - 1);
        }
      } else {
        observeGaps((now - last) / 1e9, tokens);
      }
      last = now;
    }

    private void observeGaps(double seconds, int tokens) {
      Series s = series("vllm:inter_token_latency_seconds", labels);
      for (int i = 0; i < tokens; i++) {
        s.observe(seconds / tokens);
      }
    }

    /** The request ended with {@code reason} (stop, length or abort) after these token counts. */
    public synchronized void finish(String reason, int promptTokens, int generationTokens) {
      if (finished) {
        return;
      }
      finished = true;
      adder("vllm:prompt_tokens_total", labels).add(promptTokens);
      adder("vllm:generation_tokens_total", labels).add(generationTokens);
      adder("vllm:request_success_total", labels(model, reason)).add(1);
      series("vllm:e2e_request_latency_seconds", labels).observe((System.nanoTime() - start) / 1e9);
    }

    /** The request failed; it counts in no success series. */
    public synchronized void fail() {
      finished = true;
    }
  }

  // ------------------------------------------------------------------ text format

  /** Every series in the Prometheus text format 0.0.4. */
  public String scrape() {
    StringBuilder out = new StringBuilder();
    families.forEach((name, f) -> f.write(name, out));
    return out.toString();
  }

  /** The names of the metric families this registry writes. */
  public List<String> names() {
    return new ArrayList<>(families.keySet());
  }

  private static void header(StringBuilder out, String name, String help, String type) {
    out.append("# HELP ").append(name).append(' ').append(help.replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
  }

  private static String labels(String model) {
    return "{model_name=\"" + escape(model) + "\"}";
  }

  private static String labels(String model, String reason) {
    return "{finished_reason=\"" + escape(reason) + "\",model_name=\"" + escape(model) + "\"}";
  }

  private static String escape(String v) {
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  private static String number(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return String.format(Locale.ROOT, "%.1f", v);
    }
    return Double.toString(v);
  }
}
