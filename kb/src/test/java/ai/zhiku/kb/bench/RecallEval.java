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
 *     -Dexec.args="../shared/seeds kb/eval/seeds-qa.jsonl [k] [chunkSize] [chunkOverlap] [keywordWeight] [-v]"
 * </pre>
 */
public final class RecallEval {
  public static void main(String[] argv) throws Exception {
    boolean verbose = List.of(argv).contains("-v");
    String[] args = Stream.of(argv).filter(a -> !a.equals("-v")).toArray(String[]::new);
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
    CharNgramHashingEmbedder embedder = new CharNgramHashingEmbedder(256);
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
}
