package ai.zhiku.embeddings.bench;

import ai.zhiku.common.engine.EmbedItem;
import ai.zhiku.common.engine.EmbeddingEngine;
import ai.zhiku.embeddings.BatchingEmbeddingEngine;
import ai.zhiku.embeddings.BatchingEmbeddingEngine.BatchStats;
import ai.zhiku.embeddings.EmbeddingEngineConfig;
import ai.zhiku.embeddings.EmbeddingEngineFactory;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Throughput of an embedding engine alone (no HTTP, no gRPC): closed-loop clients, each sending
 * one text per call and waiting for it, for short (about 20 Chinese characters) and long (about
 * 500) texts, at each concurrency.
 *
 * <pre>
 * java -cp … ai.zhiku.embeddings.bench.EmbeddingBenchmark [--model DIR] [--device cpu]
 *     [--seconds 10] [--warmup-seconds 3] [--concurrency 1,32] [--max-batch 32] [--wait-us 2000]
 * </pre>
 *
 * Prints one Markdown table row per (text kind, concurrency): texts/s, mean and p50/p99 latency,
 * tokens per text, mean batch size, the share of time spent in forward passes and the process
 * CPU time per text.
 */
public final class EmbeddingBenchmark {

  private static final String[] SENTENCES = {
    "今天天气晴朗，适合去公园散步。",
    "知识库问答系统需要先把文档切分成片段。",
    "向量数据库按照余弦距离检索最相近的段落。",
    "模型服务器应当支持流式输出和批处理。",
    "申请护照需要携带身份证和户口本。",
    "长江是中国最长的河流，流经十一个省份。",
    "这家餐厅的招牌菜是红烧肉和清蒸鱼。",
    "程序员在周末修复了数据库连接池的问题。",
    "机器学习模型的效果取决于训练数据的质量。",
    "北京的秋天天高云淡，是旅游的好季节。",
  };

  private EmbeddingBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path model = null;
    String device = "cpu";
    double seconds = 10;
    double warmup = 3;
    int[] concurrency = {1, 32};
    int maxBatch = EmbeddingEngineConfig.DEFAULT_MAX_BATCH_SIZE;
    long waitMicros = EmbeddingEngineConfig.DEFAULT_MAX_BATCH_WAIT_MICROS;
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--model" -> model = Path.of(value);
        case "--device" -> device = value;
        case "--seconds" -> seconds = Double.parseDouble(value);
        case "--warmup-seconds" -> warmup = Double.parseDouble(value);
        case "--concurrency" -> concurrency = Arrays.stream(value.split(",")).mapToInt(Integer::parseInt).toArray();
        case "--max-batch" -> maxBatch = Integer.parseInt(value);
        case "--wait-us" -> waitMicros = Long.parseLong(value);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
      i++;
    }
    EmbeddingEngineConfig config = new EmbeddingEngineConfig(model, device, maxBatch, waitMicros, null);
    System.out.printf(
        "engine alone: model %s, device %s, max batch %d, max wait %d us, %d cores, %.0f s per run%n%n",
        EmbeddingEngineFactory.modelName(config), device, maxBatch, waitMicros,
        Runtime.getRuntime().availableProcessors(), seconds);
    System.out.println("| texts | concurrency | texts/s | mean ms | p50 ms | p99 ms | tokens/text | mean batch | forward busy | CPU ms/text |");
    System.out.println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    try (EmbeddingEngine engine = EmbeddingEngineFactory.open(config)) {
      for (String kind : List.of("short", "long")) {
        List<String> texts = texts(kind.equals("short") ? 20 : 500, 256);
        for (int c : concurrency) {
          run(engine, texts, c, warmup);
          BatchStats before = stats(engine);
          Result r = run(engine, texts, c, seconds);
          BatchStats after = stats(engine);
          double meanBatch =
              after.batches() == before.batches()
                  ? 0
                  : (double) (after.rows() - before.rows()) / (after.batches() - before.batches());
          System.out.printf(
              "| %s (~%d chars) | %d | %.1f | %.2f | %.2f | %.2f | %.0f | %.1f | %.0f%% | %.2f |%n",
              kind, kind.equals("short") ? 20 : 500, c, r.textsPerSecond(), r.meanMs(), r.p50Ms(), r.p99Ms(),
              r.tokensPerText(), meanBatch, 100.0 * (after.forwardNanos() - before.forwardNanos()) / (r.seconds() * 1e9),
              r.cpuMsPerText());
        }
      }
    }
  }

  /**
   * CPU time of the whole process (all threads, native ones included): per text it is a figure
   * that other load on a shared machine does not distort much, unlike wall-clock throughput.
   */
  private static long processCpuNanos() {
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
      return os.getProcessCpuTime();
    }
    return 0;
  }

  private static BatchStats stats(EmbeddingEngine engine) {
    return engine instanceof BatchingEmbeddingEngine b ? b.stats() : new BatchStats(0, 0, 0, 0, 0);
  }

  /** Distinct texts of about {@code chars} characters, built from rotating sentences. */
  static List<String> texts(int chars, int count) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      StringBuilder sb = new StringBuilder();
      int k = i;
      while (sb.length() < chars) {
        sb.append(SENTENCES[k % SENTENCES.length]);
        k += 3 + i % 7;
      }
      sb.setLength(chars - 1);
      sb.append(i % 10); // keeps texts distinct
      out.add(sb.toString());
    }
    return out;
  }

  record Result(
      double textsPerSecond, double meanMs, double p50Ms, double p99Ms, double tokensPerText, double seconds, double cpuMsPerText) {}

  static Result run(EmbeddingEngine engine, List<String> texts, int concurrency, double seconds) throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    List<long[]> latencies = new ArrayList<>();
    long[] tokens = new long[concurrency];
    int[] counts = new int[concurrency];
    List<Thread> clients = new ArrayList<>();
    for (int c = 0; c < concurrency; c++) {
      final int id = c;
      long[] mine = new long[1 << 16];
      latencies.add(mine);
      Thread t =
          new Thread(
              () -> {
                int n = 0;
                while (!stop.get()) {
                  String text = texts.get((id * 31 + n) % texts.size());
                  long t0 = System.nanoTime();
                  int used = engine.embed(List.of(EmbedItem.text(text)), false, true).join().promptTokens();
                  if (n < mine.length) {
                    mine[n] = System.nanoTime() - t0;
                  }
                  tokens[id] += used;
                  n++;
                }
                counts[id] = n;
              },
              "bench-client-" + c);
      clients.add(t);
    }
    long cpuStart = processCpuNanos();
    long start = System.nanoTime();
    clients.forEach(Thread::start);
    Thread.sleep((long) (seconds * 1000));
    stop.set(true);
    for (Thread t : clients) {
      t.join();
    }
    double elapsed = (System.nanoTime() - start) / 1e9;
    long cpu = processCpuNanos() - cpuStart;
    int total = 0;
    long tokenSum = 0;
    List<Long> all = new ArrayList<>();
    for (int c = 0; c < concurrency; c++) {
      total += counts[c];
      tokenSum += tokens[c];
      for (int i = 0; i < Math.min(counts[c], latencies.get(c).length); i++) {
        all.add(latencies.get(c)[i]);
      }
    }
    all.sort(null);
    double mean = all.stream().mapToLong(Long::longValue).average().orElse(0) / 1e6;
    double p50 = all.isEmpty() ? 0 : all.get(all.size() / 2) / 1e6;
    double p99 = all.isEmpty() ? 0 : all.get(Math.min(all.size() - 1, (int) (all.size() * 0.99))) / 1e6;
    return new Result(
        total / elapsed, mean, p50, p99, total == 0 ? 0 : (double) tokenSum / total, elapsed, total == 0 ? 0 : cpu / 1e6 / total);
  }

}
