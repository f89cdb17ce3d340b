package ai.zhiku.kb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Stops the script-managed PostgreSQL in the middle of the test (scripts/postgres.sh stop/start): the service
 * answers UNAVAILABLE while it is down and works again by itself once it is back, with the same pool.
 */
class PostgresRestartTest {
  @Test
  void unavailableWhileDownThenRecovers() throws Exception {
    assumeTrue(TestDatabase.scriptManaged(), "the test database is not the one scripts/postgres.sh controls");
    CharNgramHashingEmbedder embedder = new CharNgramHashingEmbedder(32);
    try (TestDatabase db = TestDatabase.freshSchema("kbrestart");
        KnowledgeBaseService kb = new KnowledgeBaseService(db.config(3), m -> embedder)) {
      kb.create(CreateKnowledgeBase.named("live"));
      kb.addText("live", "a.txt", "重启之前写入的文档。");
      assertThat(kb.search("live", "文档", 3, null, SearchMode.HYBRID)).hasSize(1);

      TestDatabase.script("stop");
      try {
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> kb.search("live", "文档", 3, null, SearchMode.KEYWORD))
            .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.kind()).isEqualTo(ErrorKind.UNAVAILABLE));
        assertThatThrownBy(() -> kb.addText("live", "b.txt", "停机时的上传。"))
            .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.kind()).isEqualTo(ErrorKind.UNAVAILABLE));
        assertThatThrownBy(kb::list)
            .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.kind()).isEqualTo(ErrorKind.UNAVAILABLE));
        // fails fast instead of hanging the caller
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(15));
      } finally {
        TestDatabase.script("start");
      }

      List<SearchHit> hits = null;
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (hits == null) {
        try {
          hits = kb.search("live", "文档", 3, null, SearchMode.HYBRID);
        } catch (ZhikuException e) {
          assertThat(e.kind()).isEqualTo(ErrorKind.UNAVAILABLE);
          if (System.nanoTime() > deadline) {
            throw e;
          }
          Thread.sleep(200);
        }
      }
      assertThat(hits).hasSize(1);
      assertThat(kb.addText("live", "b.txt", "恢复之后的上传。").status()).isEqualTo(AddDocumentResult.Status.CREATED);
      assertThat(kb.get("live").documentCount()).isEqualTo(2);
    }
  }
}
