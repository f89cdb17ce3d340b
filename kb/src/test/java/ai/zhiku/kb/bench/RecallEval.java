package ai.zhiku.kb.bench;

import ai.zhiku.kb.CharNgramHashingEmbedder;
import ai.zhiku.kb.CreateKnowledgeBase;
import ai.zhiku.kb.KnowledgeBaseService;
import ai.zhiku.kb.SearchHit;
import ai.zhiku.kb.SearchMode;
import ai.zhiku.kb.TestDatabase;
import ai.zhiku.kb.search.Fusion;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Retrieval quality on the seed documents, without a server: ingests the seeds into a fresh schema with the
 * character-n-gram hashing test embedder and prints recall@k and MRR per search mode (a hit = a returned chunk
 * contains the expected answer string). The real embedding model is measured through {@code kb eval}.
 *
 * <pre>
 * mvn -o -q -pl kb org.codehaus.mojo:exec-maven-plugin:3.5.1:java -Dexec.classpathScope=test -Dexec.mainClass=ai.zhiku.kb.bench.RecallEval \
 *     -Dexec.args="../shared/seeds kb/eval/seeds-qa.jsonl [k] [chunkSize] [chunkOverlap] [keywordWeight] [-v] [--bge]"
 * </pre>
 */
public final class RecallEval {
  public static void main(String[] argv) throws Exception {
    boolean verbose = List.of(argv).contains("-v");
    String[] args = Stream.of(argv).filter(a -> !a.startsWith("-")).toArray(String[]::new);
    Path seeds = Path.of(args.length > 0 ? args[0] : "../shared/seeds");
    Path evalFile = Path.of(args.length > 1 ? args[1] : "kb/eval/seeds-qa.jsonl");
    int k = args.length > 2 ? Integer.parseInt(args[2]) : 5;
    Integer chunkSize = args.length > 3 ? Integer.valueOf(args[3]) : null;
    Integer overlap = args.length > 4 ? Integer.valueOf(args[4]) : null;
    double weight = args.length > 5 ? Double.parseDouble(args[5]) : Fusion.DEFAULT_KEYWORD_WEIGHT;

    ObjectMapper json = new ObjectMapper();
    List<JsonNode> qa = new ArrayList<>();
    for (String line : Files.readAllLines(evalFile)) {
      if (!line.isBlank()) {
        qa.add(json.readTree(line));
      }
    }
    boolean bge = List.of(argv).contains("--bge");
    ai.zhiku.common.engine.EmbeddingEngine engine = bge
        ? ai.zhiku.embeddings.EmbeddingEngineFactory.open(ai.zhiku.embeddings.EmbeddingEngineConfig.defaults())
        : null;
    ai.zhiku.kb.Embedder embedder = bge ? new BgeEmbedder(engine) : new CharNgramHashingEmbedder(256);
    try (TestDatabase db = TestDatabase.freshSchema("kbeval");
        KnowledgeBaseService kb = new KnowledgeBaseService(db.config(4), m -> embedder, weight)) {
      kb.create(new CreateKnowledgeBase("seeds", null, chunkSize, overlap, null));
      try (Stream<Path> files = Files.walk(seeds)) {
        for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
          kb.addDocument("seeds", seeds.relativize(f).toString(), Files.readAllBytes(f), null);
        }
      }
      System.out.printf("chunks: %d, questions: %d, chunk_size %s, overlap %s, keyword weight %.2f%n",
          kb.get("seeds").chunkCount(), qa.size(), chunkSize, overlap, weight);
      if (List.of(argv).contains("--sweep")) {
        sweep(kb, qa, k);
        return;
      }
      for (SearchMode mode : SearchMode.values()) {
        int hits = 0;
        double rr = 0;
        long t0 = System.nanoTime();
        for (JsonNode q : qa) {
          List<SearchHit> res = kb.search("seeds", q.get("question").asText(), k, null, mode);
          int rank = 0;
          for (int i = 0; i < res.size(); i++) {
            if (res.get(i).text().contains(q.get("answer").asText())) {
              rank = i + 1;
              break;
            }
          }
          if (rank > 0) {
            hits++;
            rr += 1.0 / rank;
          } else if (verbose) {
            System.out.printf("  miss [%s] %s -> %s%n", mode.wireName(), q.get("question").asText(),
                q.get("answer").asText());
          }
        }
        double ms = (System.nanoTime() - t0) / 1e6 / qa.size();
        System.out.printf("%-8s recall@%d = %.3f  MRR = %.3f  (%.1f ms/query)%n", mode.wireName(), k,
            (double) hits / qa.size(), rr / qa.size(), ms);
      }
    }
  }

  /** Fuses the same keyword and dense candidate lists with several weights, to choose the default. */
  private static void sweep(KnowledgeBaseService kb, List<JsonNode> qa, int k) {
    List<List<SearchHit>> kws = new ArrayList<>();
    List<List<SearchHit>> dns = new ArrayList<>();
    for (JsonNode q : qa) {
      kws.add(kb.search("seeds", q.get("question").asText(), 30, null, SearchMode.KEYWORD));
      dns.add(kb.search("seeds", q.get("question").asText(), 30, null, SearchMode.DENSE));
    }
    for (double w : new double[] {0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0}) {
      int hits = 0;
      double rr = 0;
      for (int i = 0; i < qa.size(); i++) {
        java.util.Map<Long, SearchHit> byId = new java.util.HashMap<>();
        List<Fusion.Scored> a = new ArrayList<>();
        List<Fusion.Scored> b = new ArrayList<>();
        for (SearchHit h : kws.get(i)) {
          long id = (long) h.document().hashCode() << 20 | h.chunkIndex();
          byId.put(id, h);
          a.add(new Fusion.Scored(id, h.score()));
        }
        for (SearchHit h : dns.get(i)) {
          long id = (long) h.document().hashCode() << 20 | h.chunkIndex();
          byId.put(id, h);
          b.add(new Fusion.Scored(id, h.score()));
        }
        List<Fusion.Fused> fused = Fusion.fuse(a, b, w);
        String answer = qa.get(i).get("answer").asText();
        for (int r = 0; r < Math.min(k, fused.size()); r++) {
          if (byId.get(fused.get(r).id()).text().contains(answer)) {
            hits++;
            rr += 1.0 / (r + 1);
            break;
          }
        }
      }
      System.out.printf("hybrid keyword weight %.2f: recall@%d = %.3f  MRR = %.3f%n", w, k,
          (double) hits / qa.size(), rr / qa.size());
    }
  }
}
