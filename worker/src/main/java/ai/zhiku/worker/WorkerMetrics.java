package ai.zhiku.worker;

import ai.zhiku.common.Metrics;
import ai.zhiku.common.engine.StepListener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The worker's engine meters, fed by the engine's {@link StepListener}: batch sizes, prefill and
 * decode tokens (rate() gives tokens/s), KV cache use; plus the process's resident memory, which
 * includes the native memory of libtorch and ONNX Runtime that the JVM's own meters cannot see.
 */
final class WorkerMetrics {

  private WorkerMetrics() {}

  static void bind(HostedModel model, Tags tags, AdmissionGate gate) {
    MeterRegistry r = Metrics.registry();
    boolean chat = model instanceof HostedModel.Chat;
    DistributionSummary batch = DistributionSummary.builder(chat ? "zhiku.worker.batch.size" : "zhiku.worker.embedding.batch.size")
        .description(chat ? "Sequences per decoder forward pass" : "Inputs per embedding forward pass")
        .tags(tags).serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128).register(r);
    Counter prefill = Counter.builder("zhiku.worker.prefill.tokens").description("Prompt tokens computed").tags(tags).register(r);
    Counter decode = Counter.builder("zhiku.worker.decode.tokens").description("Generated tokens computed").tags(tags).register(r);
    AtomicLong kv = new AtomicLong();
    if (model instanceof HostedModel.Chat c) {
      Gauge.builder("zhiku.worker.kv.cache.usage", kv, v -> v.get() / 1000.0).description("Fraction of the KV cache in use")
          .baseUnit("ratio").tags(tags).register(r);
      bindEngineStats(c.engine(), tags, r);
      ai.zhiku.common.VllmMetrics.get().bindEngine(model.names().getFirst(), c.engine()::stats, gate::queued);
    }
    if (r.find("zhiku.process.resident.memory").gauge() == null) { // one per process, however many workers it hosts
      Gauge.builder("zhiku.process.resident.memory", WorkerMetrics::residentBytes).baseUnit("bytes")
          .description("Resident memory of the process, native tensors included").register(r);
    }
    StepListener listener = (sequences, prefillTokens, decodeTokens, kvUsage) -> {
      batch.record(sequences);
      prefill.increment(prefillTokens);
      decode.increment(decodeTokens);
      kv.set(Math.round(kvUsage * 1000));
    };
    switch (model) {
      case HostedModel.Chat c -> c.engine().stepListener(listener);
      case HostedModel.Embedding e -> e.engine().stepListener(listener);
    }
  }

  /** The scheduler's and paged KV cache's state, read from the engine's latest snapshot at scrape time. */
  private static void bindEngineStats(ai.zhiku.common.engine.ChatEngine engine, Tags tags, MeterRegistry r) {
    Gauge.builder("zhiku.worker.kv.blocks", engine, e -> e.stats().kvBlocks()).description("Blocks in the paged KV cache")
        .tags(tags).register(r);
    Gauge.builder("zhiku.worker.kv.blocks.used", engine, e -> e.stats().kvBlocksUsed())
        .description("KV cache blocks held by sequences").tags(tags).register(r);
    Gauge.builder("zhiku.worker.kv.blocks.free", engine, e -> e.stats().kvBlocks() - e.stats().kvBlocksUsed())
        .description("KV cache blocks not held by a sequence (free, or cached for a later prefix)").tags(tags).register(r);
    Gauge.builder("zhiku.worker.kv.blocks.cached", engine, e -> e.stats().kvBlocksCached())
        .description("KV cache blocks the prefix cache can hand out").tags(tags).register(r);
    Gauge.builder("zhiku.worker.sequences.running", engine, e -> e.stats().running())
        .description("Sequences in the engine's running batch").tags(tags).register(r);
    Gauge.builder("zhiku.worker.sequences.waiting", engine, e -> e.stats().waiting())
        .description("Sequences in the engine waiting for KV blocks or a batch place").tags(tags).register(r);
    io.micrometer.core.instrument.FunctionCounter.builder("zhiku.worker.prefix.cache.queries", engine, e -> e.stats().prefixQueryTokens())
        .description("Prompt tokens looked up in the prefix cache").baseUnit("tokens").tags(tags).register(r);
    io.micrometer.core.instrument.FunctionCounter.builder("zhiku.worker.prefix.cache.hits", engine, e -> e.stats().prefixHitTokens())
        .description("Prompt tokens found in the prefix cache").baseUnit("tokens").tags(tags).register(r);
    io.micrometer.core.instrument.FunctionCounter.builder("zhiku.worker.preemptions", engine, e -> e.stats().preemptions())
        .description("Sequences preempted for lack of KV blocks, recomputed later").tags(tags).register(r);
    io.micrometer.core.instrument.FunctionCounter.builder("zhiku.worker.steps", engine, e -> e.stats().steps())
        .description("Forward passes run").tags(tags).register(r);
    io.micrometer.core.instrument.FunctionCounter.builder("zhiku.worker.step.host.time", engine, e -> e.stats().stepHostNanos() / 1e9)
        .description("Time of engine steps outside the forward pass (scheduling, sampling, detokenizing)").baseUnit("seconds")
        .tags(tags).register(r);
    io.micrometer.core.instrument.FunctionCounter.builder("zhiku.worker.step.forward.time", engine, e -> e.stats().stepForwardNanos() / 1e9)
        .description("Time of engine steps in the forward pass").baseUnit("seconds").tags(tags).register(r);
  }

  /** VmRSS from /proc (Linux); 0 where there is none. */
  static double residentBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024.0;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }
}
