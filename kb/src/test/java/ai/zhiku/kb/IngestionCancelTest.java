package ai.zhiku.kb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.kb.ingest.Cancellation;
import ai.zhiku.kb.ingest.DocumentLimits;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Uploads cancelled while they are embedded, and documents over a limit, against the real PostgreSQL: the
 * ingestion stops at its next check and stores nothing of the document (no row, no chunks, no postings), and a
 * cancelled replacement leaves the stored version whole.
 */
class IngestionCancelTest {
  static TestDatabase db;
  static KnowledgeBaseService kb;
  static final CharNgramHashingEmbedder HASHING = new CharNgramHashingEmbedder(32);
  static final AtomicInteger batches = new AtomicInteger();
  /** Called with the batch number (from 1) as each embedding batch starts; the test decides what it does. */
  static volatile IntConsumer onBatch = n -> { };

  /** The hashing embedder, 50 ms a batch, telling {@link #onBatch}. */
  static final Embedder SLOW = new Embedder() {
    @Override
    public List<float[]> embed(List<String> texts, boolean query) {
      if (!query) {
        onBatch.accept(batches.incrementAndGet());
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return HASHING.embed(texts, query);
    }

    @Override
    public int dimension() {
      return HASHING.dimension();
    }
  };

  @BeforeAll
  static void start() {
    db = TestDatabase.freshSchema("kbcancel");
    kb = new KnowledgeBaseService(db.config(2).withDocumentLimits(DocumentLimits.DEFAULTS.withMaxTextChars(200_000)),
        m -> SLOW);
    kb.create(CreateKnowledgeBase.named("cancel"));
  }

  @AfterAll
  static void stop() {
    kb.close();
    db.close();
  }

  /** About 300 chunks of 500 characters: 10 batches of 32. */
  static String longText(String tag) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 1200; i++) {
      sb.append("第").append(i).append("段讲").append(tag).append("的向量索引、分词与召回，内容各不相同。").append("\n\n");
      sb.append("Paragraph ").append(i).append(" of ").append(tag).append(" on HNSW, BM25 and hybrid fusion.\n\n");
    }
    return sb.toString();
  }

  static long count(String sql) throws Exception {
    try (Connection c = DriverManager.getConnection(db.url()); PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  @Test
  void anUploadCancelledWhileEmbeddingStopsAtTheNextBatchAndStoresNothing() throws Exception {
    Cancellation cancel = new Cancellation();
    CountDownLatch third = new CountDownLatch(1);
    batches.set(0);
    onBatch = n -> {
      if (n == 3) {
        third.countDown();
      }
    };
    String text = longText("cancel");
    CompletableFuture<AddDocumentResult> upload = CompletableFuture.supplyAsync(() -> kb.addText("cancel", "long.txt", text, cancel));
    assertThat(third.await(30, TimeUnit.SECONDS)).isTrue();
    cancel.cancel("the client disconnected");
    long cancelledAt = System.nanoTime();
    assertThatThrownBy(() -> upload.get(10, TimeUnit.SECONDS)).cause().isInstanceOfSatisfying(ZhikuException.class, e -> {
      assertThat(e.code()).isEqualTo(Cancellation.CODE);
      assertThat(e.getMessage()).contains("the client disconnected");
    });
    long ms = (System.nanoTime() - cancelledAt) / 1_000_000;
    assertThat(ms).as("stopped %d ms after the cancel", ms).isLessThan(2_000);
    assertThat(batches.get()).as("batches embedded of ~10").isLessThanOrEqualTo(4);
    assertThat(count("SELECT count(*) FROM documents")).isZero();
    assertThat(count("SELECT count(*) FROM chunks")).isZero();
    assertThat(count("SELECT count(*) FROM chunk_terms")).isZero();
    assertThat(kb.get("cancel").documentCount()).isZero();

    // the same upload, not cancelled, is stored whole
    onBatch = n -> { };
    AddDocumentResult r = kb.addText("cancel", "long.txt", text);
    assertThat(r.status()).isEqualTo(AddDocumentResult.Status.CREATED);
    assertThat(count("SELECT count(*) FROM chunks")).isEqualTo(r.document().chunkCount()).isGreaterThan(200);
    kb.deleteDocument("cancel", r.document().id());
  }

  @Test
  void aReplacementCancelledAfterItsLastBatchLeavesTheStoredVersionWhole() throws Exception {
    AddDocumentResult v1 = kb.addText("cancel", "replace.txt", "第一版的内容。".repeat(200));
    long chunks = count("SELECT count(*) FROM chunks");
    long postings = count("SELECT count(*) FROM chunk_terms");
    String text = longText("replace");
    int batchesOfV2 = (int) Math.ceil(new ai.zhiku.kb.ingest.Chunker(500, 100).split(text).size() / 32.0);
    Cancellation cancel = new Cancellation();
    batches.set(0);
    onBatch = n -> {
      if (n == batchesOfV2) {
        cancel.cancel("the client disconnected"); // during the last batch: only the checks after embedding remain
      }
    };
    try {
      assertThatThrownBy(() -> kb.addText("cancel", "replace.txt", text, cancel))
          .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.code()).isEqualTo(Cancellation.CODE));
    } finally {
      onBatch = n -> { };
    }
    assertThat(batches.get()).isEqualTo(batchesOfV2);
    DocumentInfo stored = kb.listDocuments("cancel").getFirst();
    assertThat(stored.contentHash()).isEqualTo(v1.document().contentHash());
    assertThat(count("SELECT count(*) FROM chunks")).isEqualTo(chunks);
    assertThat(count("SELECT count(*) FROM chunk_terms")).isEqualTo(postings);
    kb.deleteDocument("cancel", v1.document().id());
  }

  @Test
  void aDocumentOverTheTextLimitIsRefusedBeforeAnyEmbedding() throws Exception {
    batches.set(0);
    assertThatThrownBy(() -> kb.addText("cancel", "huge.txt", "字".repeat(200_001)))
        .isInstanceOfSatisfying(ZhikuException.class, e -> {
          assertThat(e.kind()).isEqualTo(ErrorKind.PAYLOAD_TOO_LARGE);
          assertThat(e.param()).isEqualTo("file");
          assertThat(e.getMessage()).contains("200,000 characters");
        });
    assertThat(batches.get()).isZero();
    assertThat(count("SELECT count(*) FROM documents WHERE name = 'huge.txt'")).isZero();
  }
}
