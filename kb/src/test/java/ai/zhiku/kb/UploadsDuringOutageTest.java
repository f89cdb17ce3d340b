package ai.zhiku.kb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Twenty uploads while PostgreSQL is stopped and started under them (scripts/postgres.sh): each upload
 * either succeeds or is refused as unavailable (the API's 503), and afterwards the database holds exactly
 * the documents that succeeded, each with its own chunks once: nothing lost, nothing twice.
 */
class UploadsDuringOutageTest {
  @Test
  void everyUploadSucceedsOrIsUnavailableAndNothingIsLostOrDoubled() throws Exception {
    assumeTrue(TestDatabase.scriptManaged(), "the test database is not the one scripts/postgres.sh controls");
    CharNgramHashingEmbedder embedder = new CharNgramHashingEmbedder(32);
    try (TestDatabase db = TestDatabase.freshSchema("kboutage");
        KnowledgeBaseService kb = new KnowledgeBaseService(db.config(4), m -> embedder)) {
      kb.create(CreateKnowledgeBase.named("outage"));
      Map<String, Integer> expectedChunks = new ConcurrentHashMap<>();
      List<String> refused = java.util.Collections.synchronizedList(new ArrayList<>());
      ExecutorService pool = Executors.newFixedThreadPool(4);
      List<Future<?>> uploads = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        String name = "doc" + i + ".txt";
        String text = ("第" + i + "份文档的第一段。").repeat(30) + "\n\n" + ("第二段内容" + i + "。").repeat(40);
        uploads.add(pool.submit(() -> {
          Thread.sleep(150L * (uploads.size() % 7));
          try {
            AddDocumentResult r = kb.addText("outage", name, text);
            expectedChunks.put(name, r.document().chunkCount());
          } catch (ZhikuException e) {
            assertThat(e.kind()).as(name + ": " + e.getMessage()).isEqualTo(ErrorKind.UNAVAILABLE);
            refused.add(name);
          }
          return null;
        }));
        if (i == 3) {
          TestDatabase.script("stop");
          Thread.sleep(1500);
          TestDatabase.script("start");
        }
      }
      for (Future<?> f : uploads) f.get();
      pool.shutdown();
      System.out.printf("uploads during a Postgres stop/start: %d succeeded, %d unavailable%n", expectedChunks.size(), refused.size());
      assertThat(expectedChunks.size() + refused.size()).isEqualTo(20);
      try (Connection c = DriverManager.getConnection(db.url()); Statement s = c.createStatement()) {
        Map<String, Integer> stored = new java.util.TreeMap<>();
        try (ResultSet rs = s.executeQuery("SELECT d.name, d.chunk_count, (SELECT count(*) FROM chunks ch WHERE ch.document_id = d.id) "
            + "FROM documents d")) {
          while (rs.next()) {
            assertThat(rs.getInt(3)).as(rs.getString(1) + " stores each chunk once").isEqualTo(rs.getInt(2));
            stored.put(rs.getString(1), rs.getInt(3));
          }
        }
        assertThat(stored).isEqualTo(new java.util.TreeMap<>(expectedChunks));
      }
    }
  }
}
