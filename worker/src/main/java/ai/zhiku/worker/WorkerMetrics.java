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

  static void bind(HostedModel model, Tags tags) {
    MeterRegistry r = Metrics.registry();
    boolean chat = model instanceof HostedModel.Chat;
    DistributionSummary batch = DistributionSummary.builder(chat ? "zhiku.worker.batch.size" : "zhiku.worker.embedding.batch.size")
        .description(chat ? "Sequences per decoder forward pass" : "Inputs per embedding forward pass")
        .tags(tags).serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128).register(r);
    Counter prefill = Counter.builder("zhiku.worker.prefill.tokens").description("Prompt tokens computed").tags(tags).register(r);
    Counter decode = Counter.builder("zhiku.worker.decode.tokens").description("Generated tokens computed").tags(tags).register(r);
    AtomicLong kv = new AtomicLong();
    if (chat) {
      Gauge.builder("zhiku.worker.kv.cache.usage", kv, v -> v.get() / 1000.0).description("Fraction of the KV cache in use")
          .baseUnit("ratio").tags(tags).register(r);
    }
    Gauge.builder("zhiku.process.resident.memory", WorkerMetrics::residentBytes).baseUnit("bytes")
        .description("Resident memory of the process, native tensors included").register(r);
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
