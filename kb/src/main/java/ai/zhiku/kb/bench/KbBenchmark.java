package ai.zhiku.kb.bench;

import ai.zhiku.kb.CreateKnowledgeBase;
import ai.zhiku.kb.Embedder;
import ai.zhiku.kb.KbConfig;
import ai.zhiku.kb.KnowledgeBaseService;
import ai.zhiku.kb.SearchMode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * Search latency at scale: fills one knowledge base with N chunks (default 100k) of synthetic documents built
 * from shuffled sentences of the seed documents (so bigram statistics are realistic), with synthetic 512-d
 * vectors, then times searches in each mode and prints p50/p99. Also prints ingestion throughput (chunking,
 * keyword postings and storage; the embedding model is not part of it) and the table sizes.
 *
 * <pre>
 * bin/zhiku bench kb [chunks=100000] [queries=300] [seedsDir] [evalFile] [bulk|incremental]
 * java -cp kb/target/classes:$(cat kb/target/test.classpath) ai.zhiku.kb.bench.KbBenchmark ...
 * </pre>
 *
 * {@code bulk} drops the knowledge base's HNSW index before loading and rebuilds it afterwards (pgvector's own
 * advice for bulk loads); {@code incremental} (default) keeps it, as uploads through the service do.
 * It works in a schema of its own in the database given by {@code ZHIKU_KB_DATABASE_URL} (default: the
 * private cluster of scripts/postgres.sh) and drops it afterwards. Environment: {@code KB_BENCH_KEEP=1} keeps
 * the schema; {@code KB_BENCH_SCHEMA=<schema>} skips loading and measures queries on a kept schema.
 */
public final class KbBenchmark {
  public static void main(String[] args) throws Exception {
    int target = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
    int queries = args.length > 1 ? Integer.parseInt(args[1]) : 300;
    Path seeds = Path.of(args.length > 2 ? args[2] : "../shared/seeds");
    Path evalFile = Path.of(args.length > 3 ? args[3] : "kb/eval/seeds-qa.jsonl");
    boolean bulk = args.length > 4 && args[4].equals("bulk");

    List<String> sentences = new ArrayList<>();
    try (Stream<Path> files = Files.list(seeds)) {
      for (Path f : files.sorted().toList()) {
        for (String s : Files.readString(f, StandardCharsets.UTF_8).split("(?<=[。！？\\n])")) {
          if (s.strip().length() >= 8) {
            sentences.add(s.strip());
          }
        }
      }
    }
    List<String> qs = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    for (String line : Files.readAllLines(evalFile)) {
      if (!line.isBlank()) {
        qs.add(json.readTree(line).get("question").asText());
      }
    }
    Random rnd = new Random(42);
    while (qs.size() < queries) { // plus fragments of seed sentences as further queries
      String s = sentences.get(rnd.nextInt(sentences.size()));
      int len = Math.min(s.length(), 6 + rnd.nextInt(20));
      int from = rnd.nextInt(s.length() - len + 1);
      qs.add(s.substring(from, from + len));
    }

    SyntheticVectors embedder = new SyntheticVectors(512);
    String base = System.getenv().getOrDefault("ZHIKU_KB_DATABASE_URL", DEFAULT_URL);
    String reuse = System.getenv("KB_BENCH_SCHEMA");
    String schema = reuse != null ? reuse : "kbbench_" + Integer.toHexString(ThreadLocalRandom.current().nextInt() >>> 1);
    if (!schema.matches("[a-z0-9_]+")) {
      throw new IllegalArgumentException("bad schema name " + schema);
    }
    boolean keep = reuse != null || System.getenv("KB_BENCH_KEEP") != null;
    if (reuse == null) {
      try (Connection c = DriverManager.getConnection(base); Statement s = c.createStatement()) {
        s.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public");
        s.execute("CREATE SCHEMA " + schema);
      }
    }
    String url = base + (base.contains("?") ? "&" : "?") + "currentSchema=" + schema + ",public";
    try (KnowledgeBaseService kb = new KnowledgeBaseService(new KbConfig(url, 4, "synthetic"), m -> embedder)) {
      if (reuse == null) {
        if (keep) {
          System.out.println("keeping schema " + schema);
        }
        ingest(kb, url, schema, target, bulk, sentences, rnd);
      }
      for (SearchMode mode : SearchMode.values()) {
        for (int i = 0; i < 30; i++) { // warm-up
          kb.search("bench", qs.get(i % qs.size()), 5, null, mode);
        }
        long[] ns = new long[qs.size()];
        long worst = 0;
        String worstQuery = "";
        for (int i = 0; i < qs.size(); i++) {
          long s0 = System.nanoTime();
          kb.search("bench", qs.get(i), 5, null, mode);
          ns[i] = System.nanoTime() - s0;
          if (ns[i] > worst) {
            worst = ns[i];
            worstQuery = qs.get(i);
          }
        }
        Arrays.sort(ns);
        if (System.getenv("KB_BENCH_VERBOSE") != null) {
          System.out.printf(Locale.ROOT, "  slowest %s query (%.1f ms): %s%n", mode.wireName(), worst / 1e6, worstQuery);
        }
        System.out.printf(Locale.ROOT, "%-8s top_k=5  p50 %6.1f ms  p99 %6.1f ms  mean %6.1f ms  (%d queries)%n",
            mode.wireName(), ns[ns.length / 2] / 1e6, ns[(int) Math.ceil(ns.length * 0.99) - 1] / 1e6,
            Arrays.stream(ns).average().orElse(0) / 1e6, ns.length);
      }
    } finally {
      if (!keep) {
        try (Connection c = DriverManager.getConnection(base); Statement s = c.createStatement()) {
          s.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        }
      }
    }
  }

  private static final String DEFAULT_URL = "jdbc:postgresql://127.0.0.1:54329/zhiku?user=zhiku";

  /**
   * Synthetic embeddings for the benchmark: a unit vector drawn from a generator seeded by the text's hash.
   * Meaningless by design; latency of storage and search does not depend on what the vectors mean.
   */
  private static final class SyntheticVectors implements Embedder {
    private final int dimension;

    SyntheticVectors(int dimension) {
      this.dimension = dimension;
    }

    @Override
    public List<float[]> embed(List<String> texts, boolean query) {
      List<float[]> out = new ArrayList<>(texts.size());
      for (String t : texts) {
        SplittableRandom r = new SplittableRandom(t.hashCode() * 0x9E3779B97F4A7C15L);
        float[] v = new float[dimension];
        double norm = 0;
        for (int i = 0; i < dimension; i++) {
          v[i] = (float) (r.nextDouble() * 2 - 1);
          norm += v[i] * v[i];
        }
        float inv = (float) (1 / Math.sqrt(norm));
        for (int i = 0; i < dimension; i++) {
          v[i] *= inv;
        }
        out.add(v);
      }
      return out;
    }

    @Override
    public int dimension() {
      return dimension;
    }
  }

  private static void ingest(KnowledgeBaseService kb, String url, String schema, int target, boolean bulk,
      List<String> sentences, Random rnd) throws Exception {
    kb.create(CreateKnowledgeBase.named("bench"));
    String hnswDdl = null;
    if (bulk) { // load without the HNSW index, build it afterwards (pgvector's advice for bulk loads)
      try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = '"
              + schema + "' AND indexdef ILIKE '%USING hnsw%'")) {
        rs.next();
        hnswDdl = rs.getString(2);
        try (Statement drop = c.createStatement()) {
          drop.execute("DROP INDEX " + rs.getString(1));
        }
      }
    }
    long chunks = 0;
    int docs = 0;
    long t0 = System.nanoTime();
    while (chunks < target) {
      StringBuilder doc = new StringBuilder();
      while (doc.length() < 40_000) {
        doc.append(sentences.get(rnd.nextInt(sentences.size())));
        doc.append(rnd.nextInt(4) == 0 ? "\n\n" : "");
      }
      chunks += kb.addText("bench", "doc-" + docs++ + ".txt", doc.toString()).document().chunkCount();
      if (docs % 100 == 0) {
        System.err.printf(Locale.ROOT, "\r%d chunks, %.0f chunks/s", chunks, chunks / ((System.nanoTime() - t0) / 1e9));
      }
    }
    double ingestSecs = (System.nanoTime() - t0) / 1e9;
    System.err.println();
    if (hnswDdl != null) {
      long b0 = System.nanoTime();
      try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
        s.execute("SET maintenance_work_mem = '1GB'");
        s.execute(hnswDdl);
      }
      System.out.printf(Locale.ROOT, "bulk load: HNSW index built after loading in %.1f s%n",
          (System.nanoTime() - b0) / 1e9);
    }
    try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
      s.execute("VACUUM ANALYZE chunks");
      s.execute("VACUUM ANALYZE chunk_terms");
      s.execute("VACUUM ANALYZE kb_terms");
      try (ResultSet rs = s.executeQuery("SELECT pg_size_pretty(pg_total_relation_size('chunks')),"
          + " pg_size_pretty(pg_total_relation_size('chunk_terms')), (SELECT count(*) FROM chunk_terms)")) {
        rs.next();
        System.out.printf(Locale.ROOT, "%d chunks in %d documents: ingested in %.1f s = %.0f chunks/s (synthetic"
                + " embedder); chunks table %s, keyword postings %s (%d rows)%n",
            chunks, docs, ingestSecs, chunks / ingestSecs, rs.getString(1), rs.getString(2), rs.getLong(3));
      }
    }
  }
}
