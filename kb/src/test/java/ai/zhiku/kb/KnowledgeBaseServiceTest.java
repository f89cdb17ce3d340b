package ai.zhiku.kb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** Against the real PostgreSQL + pgvector, in a schema of its own. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KnowledgeBaseServiceTest {
  private final CharNgramHashingEmbedder small = new CharNgramHashingEmbedder(64);
  private final CharNgramHashingEmbedder seedsEmbedder = new CharNgramHashingEmbedder(256);
  private TestDatabase db;
  private KnowledgeBaseService kb;

  @BeforeAll
  void setUp() throws Exception {
    db = TestDatabase.freshSchema("kbtest");
    kb = new KnowledgeBaseService(db.config(4), model -> switch (model) {
      case "hashing-test" -> seedsEmbedder;
      case "hashing-64" -> small;
      default -> null;
    });
    kb.create(CreateKnowledgeBase.named("seeds"));
    Path seeds = TestDatabase.seedsDir();
    try (Stream<Path> files = Files.list(seeds)) {
      for (Path f : files.sorted().toList()) {
        AddDocumentResult r = kb.addDocument("seeds", f.getFileName().toString(), Files.readAllBytes(f), "text/plain");
        assertThat(r.status()).isEqualTo(AddDocumentResult.Status.CREATED);
      }
    }
  }

  @AfterAll
  void tearDown() {
    if (kb != null) {
      kb.close();
    }
    if (db != null) {
      db.close();
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static void assertError(ThrowingCallable call, ErrorKind kind, String paramOrCode) {
    assertThatThrownBy(call).isInstanceOfSatisfying(ZhikuException.class, e -> {
      assertThat(e.kind()).isEqualTo(kind);
      assertThat(paramOrCode).isIn(e.param(), e.code());
    });
  }

  /** kb_terms.df must equal the number of postings of each term, whatever happened before. */
  private void assertDocumentFrequenciesConsistent() throws Exception {
    try (Connection c = DriverManager.getConnection(db.url()); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("""
            SELECT count(*) FROM kb_terms t
            WHERE t.df <> (SELECT count(*) FROM chunk_terms p WHERE p.kb_id = t.kb_id AND p.term = t.term)""")) {
      rs.next();
      assertThat(rs.getLong(1)).as("terms whose df disagrees with the postings").isZero();
    }
  }

  @Test
  void seedsAreIngestedWithCounts() {
    KnowledgeBaseInfo info = kb.get("seeds");
    assertThat(info.documentCount()).isEqualTo(5);
    assertThat(info.chunkCount()).isGreaterThan(100);
    assertThat(info.embeddingModel()).isEqualTo("hashing-test");
    assertThat(info.dimension()).isEqualTo(256);
    assertThat(info.chunkSize()).isEqualTo(KnowledgeBaseService.DEFAULT_CHUNK_SIZE);
    assertThat(kb.list()).extracting(KnowledgeBaseInfo::name).contains("seeds");
    List<DocumentInfo> docs = kb.listDocuments("seeds");
    assertThat(docs).hasSize(5);
    assertThat(docs.stream().mapToLong(DocumentInfo::chunkCount).sum()).isEqualTo(info.chunkCount());
  }

  @Test
  void searchEachModeFindsAnswers() {
    for (SearchMode mode : SearchMode.values()) {
      List<SearchHit> hits = kb.search("seeds", "M3E 训练时用的是什么显卡？", 5, null, mode);
      assertThat(hits).as(mode.name()).hasSizeBetween(1, 5);
      assertThat(hits).as(mode.name()).anySatisfy(h -> assertThat(h.text()).contains("A100 80G"));
      for (int i = 0; i < hits.size(); i++) {
        assertThat(hits.get(i).score()).isBetween(0.0, 1.0);
        if (i > 0) {
          assertThat(hits.get(i).score()).isLessThanOrEqualTo(hits.get(i - 1).score());
        }
        assertThat(hits.get(i).document()).endsWith(".txt");
      }
    }
    // keyword search matches exact version strings inside Chinese text
    List<SearchHit> kw = kb.search("seeds", "Milvus 对应的 pymilvus 版本", 3, null, SearchMode.KEYWORD);
    assertThat(kw.get(0).text()).contains("pymilvus");
  }

  @Test
  void scoreThresholdAndTopK() {
    List<SearchHit> all = kb.search("seeds", "向量数据库", 20, null, SearchMode.HYBRID);
    assertThat(all).hasSize(20);
    double cut = all.get(5).score();
    List<SearchHit> some = kb.search("seeds", "向量数据库", 20, cut, SearchMode.HYBRID);
    assertThat(some).allSatisfy(h -> assertThat(h.score()).isGreaterThanOrEqualTo(cut));
    assertThat(some.size()).isBetween(6, 19);
    assertThat(kb.search("seeds", "完全无关的查询词汇组合", 5, 0.99, SearchMode.KEYWORD)).isEmpty();
  }

  @Test
  void validationErrorsNameTheParameter() {
    assertError(() -> kb.search("seeds", " ", 5, null, SearchMode.DENSE), ErrorKind.INVALID_REQUEST, "query");
    assertError(() -> kb.search("seeds", "q", 0, null, null), ErrorKind.INVALID_REQUEST, "top_k");
    assertError(() -> kb.search("seeds", "q", 101, null, null), ErrorKind.INVALID_REQUEST, "top_k");
    assertError(() -> kb.search("seeds", "q", 5, 1.5, null), ErrorKind.INVALID_REQUEST, "score_threshold");
    assertError(() -> SearchMode.parse("fuzzy"), ErrorKind.INVALID_REQUEST, "mode");
    assertError(() -> kb.search("no-such-kb", "q", 5, null, null), ErrorKind.NOT_FOUND, "knowledge_base_not_found");
    assertError(() -> kb.get("bad name; drop table"), ErrorKind.INVALID_REQUEST, "name");
    assertError(() -> kb.create(new CreateKnowledgeBase("x1", "no-such-model", null, null, null)),
        ErrorKind.NOT_FOUND, "model_not_found");
    assertError(() -> kb.create(new CreateKnowledgeBase("x2", "hashing-64", 10, null, null)),
        ErrorKind.INVALID_REQUEST, "chunk_size");
    assertError(() -> kb.create(new CreateKnowledgeBase("x3", "hashing-64", 200, 150, null)),
        ErrorKind.INVALID_REQUEST, "chunk_overlap");
    assertError(() -> kb.create(new CreateKnowledgeBase("x4", "hashing-64", null, null, "no placeholders")),
        ErrorKind.INVALID_REQUEST, "prompt_template");
    assertError(() -> kb.create(CreateKnowledgeBase.named("seeds")), ErrorKind.INVALID_REQUEST, "name");
    assertError(() -> kb.addDocument("seeds", "../etc/passwd", utf8("x"), null), ErrorKind.INVALID_REQUEST, "file");
    assertError(() -> kb.addDocument("seeds", "a.bin", utf8("x"), "application/octet-stream"),
        ErrorKind.INVALID_REQUEST, "file");
    assertError(() -> kb.addDocument("seeds", "empty.txt", utf8("  \n "), null), ErrorKind.INVALID_REQUEST, "file");
    assertError(() -> kb.deleteDocument("seeds", "1 OR 1=1"), ErrorKind.INVALID_REQUEST, "document_id");
    assertError(() -> kb.deleteDocument("seeds", "00000000-0000-0000-0000-000000000000"),
        ErrorKind.NOT_FOUND, "document_not_found");
    assertThat(kb.list()).extracting(KnowledgeBaseInfo::name).doesNotContain("x1", "x2", "x3", "x4");
  }

  @Test
  void reuploadIsIdempotentAndChangedContentReplacesChunks() throws Exception {
    kb.create(new CreateKnowledgeBase("docs", "hashing-64", 100, 20, null));
    String v1 = "# 说明\n\n旧版本的内容提到端口 19530。" + "这是填充的句子。".repeat(20);
    AddDocumentResult first = kb.addDocument("docs", "notes/readme.md", utf8(v1), "text/markdown");
    assertThat(first.status()).isEqualTo(AddDocumentResult.Status.CREATED);
    long chunksV1 = kb.get("docs").chunkCount();
    assertThat(chunksV1).isEqualTo(first.document().chunkCount()).isGreaterThan(1);

    AddDocumentResult again = kb.addDocument("docs", "notes/readme.md", utf8(v1), "text/markdown");
    assertThat(again.status()).isEqualTo(AddDocumentResult.Status.UNCHANGED);
    assertThat(again.document().id()).isEqualTo(first.document().id());
    assertThat(kb.get("docs").chunkCount()).isEqualTo(chunksV1);

    String v2 = "# 说明\n\n新版本改用端口 8001。";
    AddDocumentResult replaced = kb.addDocument("docs", "notes/readme.md", utf8(v2), "text/markdown");
    assertThat(replaced.status()).isEqualTo(AddDocumentResult.Status.REPLACED);
    assertThat(replaced.document().id()).isEqualTo(first.document().id());
    assertThat(replaced.document().contentHash()).isNotEqualTo(first.document().contentHash());
    assertThat(kb.get("docs").chunkCount()).isEqualTo(1);
    assertThat(kb.get("docs").documentCount()).isEqualTo(1);
    List<SearchHit> hits = kb.search("docs", "端口", 10, null, SearchMode.KEYWORD);
    assertThat(hits).hasSize(1);
    assertThat(hits.get(0).text()).contains("8001").doesNotContain("19530");
    assertThat(hits.get(0).document()).isEqualTo("notes/readme.md");

    kb.addText("docs", "second.txt", "另一篇文档。");
    assertThat(kb.listDocuments("docs")).extracting(DocumentInfo::name).containsExactly("notes/readme.md", "second.txt");
    kb.deleteDocument("docs", replaced.document().id());
    assertThat(kb.listDocuments("docs")).extracting(DocumentInfo::name).containsExactly("second.txt");
    assertThat(kb.search("docs", "端口", 10, null, SearchMode.KEYWORD)).isEmpty();
    assertThat(kb.search("docs", "端口", 10, null, SearchMode.DENSE)).extracting(SearchHit::document)
        .containsOnly("second.txt");

    assertDocumentFrequenciesConsistent();
    kb.delete("docs");
    assertDocumentFrequenciesConsistent();
    assertError(() -> kb.get("docs"), ErrorKind.NOT_FOUND, "knowledge_base_not_found");
    assertError(() -> kb.delete("docs"), ErrorKind.NOT_FOUND, "knowledge_base_not_found");
  }

  @Test
  void concurrentUploadsOfOneFileDoNotDuplicate() throws Exception {
    kb.create(new CreateKnowledgeBase("race", "hashing-64", 100, 10, null));
    byte[] content = utf8("并发上传同一个文件。".repeat(50));
    int n = 6;
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<AddDocumentResult>> results = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        results.add(pool.submit((Callable<AddDocumentResult>) () -> {
          start.await();
          return kb.addDocument("race", "same.txt", content, "text/plain");
        }));
      }
      start.countDown();
      int created = 0;
      for (Future<AddDocumentResult> f : results) {
        if (f.get().status() == AddDocumentResult.Status.CREATED) {
          created++;
        } else {
          assertThat(f.get().status()).isEqualTo(AddDocumentResult.Status.UNCHANGED);
        }
      }
      assertThat(created).isEqualTo(1);
      KnowledgeBaseInfo info = kb.get("race");
      assertThat(info.documentCount()).isEqualTo(1);
      assertThat(info.chunkCount()).isEqualTo(kb.listDocuments("race").get(0).chunkCount());
      assertDocumentFrequenciesConsistent();
    } finally {
      pool.shutdownNow();
      kb.delete("race");
    }
  }

  @Test
  void failedIngestLeavesNoHalfDocument() {
    Embedder breaksLate = new Embedder() {
      @Override
      public List<float[]> embed(List<String> texts, boolean query) {
        List<float[]> out = new ArrayList<>(small.embed(texts, query));
        out.set(out.size() - 1, new float[3]); // a wrong dimension on the last vector
        return out;
      }

      @Override
      public int dimension() {
        return 64;
      }
    };
    try (KnowledgeBaseService broken = new KnowledgeBaseService(db.config(2), m -> breaksLate)) {
      broken.create(new CreateKnowledgeBase("broken", "any", 100, 10, null));
      assertError(() -> broken.addDocument("broken", "a.txt", utf8("内容。".repeat(100)), null),
          ErrorKind.INTERNAL, "internal_error");
      assertThat(broken.get("broken").documentCount()).isZero();
      assertThat(broken.get("broken").chunkCount()).isZero();
      broken.delete("broken");
    }
  }

  @Test
  void hybridFallsBackToKeywordWhenTheEmbeddingModelIsAway() {
    Embedder away = new Embedder() {
      @Override
      public List<float[]> embed(List<String> texts, boolean query) {
        if (query) {
          throw ZhikuException.unavailable("no worker serves the embedding model");
        }
        return small.embed(texts, false);
      }

      @Override
      public int dimension() {
        return 64;
      }
    };
    try (KnowledgeBaseService svc = new KnowledgeBaseService(db.config(2), m -> away)) {
      svc.create(new CreateKnowledgeBase("away", "any", null, null, null));
      svc.addText("away", "a.txt", "关键词检索仍然可用。");
      assertThat(svc.search("away", "关键词检索", 3, null, SearchMode.HYBRID)).extracting(SearchHit::document)
          .containsExactly("a.txt");
      assertError(() -> svc.search("away", "关键词检索", 3, null, SearchMode.DENSE), ErrorKind.UNAVAILABLE,
          "service_unavailable");
      svc.delete("away");
    }
  }

  @Test
  void modelsNeverShareAnIndex() throws Exception {
    kb.create(new CreateKnowledgeBase("small-a", "hashing-64", null, null, null));
    kb.create(new CreateKnowledgeBase("small-b", "hashing-64", null, null, null));
    kb.addText("small-a", "a.txt", "甲库的文档讲 HNSW 索引。");
    kb.addText("small-b", "b.txt", "乙库的文档也讲 HNSW 索引。");
    assertThat(kb.search("small-a", "HNSW 索引", 5, null, SearchMode.DENSE)).extracting(SearchHit::document)
        .containsExactly("a.txt");
    try (Connection c = DriverManager.getConnection(db.url()); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT indexdef FROM pg_indexes WHERE schemaname = '" + db.schema()
            + "' AND indexdef ILIKE '%hnsw%' ORDER BY indexname")) {
      List<String> defs = new ArrayList<>();
      while (rs.next()) {
        defs.add(rs.getString(1));
      }
      assertThat(defs).anySatisfy(d -> assertThat(d).contains("vector(256)", "vector_cosine_ops"));
      assertThat(defs).filteredOn(d -> d.contains("vector(64)")).hasSize(2)
          .allSatisfy(d -> assertThat(d).containsPattern("WHERE \\(kb_id = \\d+\\)"));
    }
    // the dense query is served by the knowledge base's own HNSW index
    try (Connection c = DriverManager.getConnection(db.url()); Statement s = c.createStatement()) {
      s.execute("SET enable_seqscan = off");
      int kbId;
      try (ResultSet rs = s.executeQuery("SELECT id FROM knowledge_bases WHERE name = 'small-a'")) {
        rs.next();
        kbId = rs.getInt(1);
      }
      String v = "[" + "0.1,".repeat(63) + "0.1]";
      StringBuilder plan = new StringBuilder();
      try (ResultSet rs = s.executeQuery("EXPLAIN SELECT id FROM chunks WHERE kb_id = " + kbId
          + " ORDER BY embedding::vector(64) <=> '" + v + "'::vector(64) LIMIT 5")) {
        while (rs.next()) {
          plan.append(rs.getString(1)).append('\n');
        }
      }
      assertThat(plan.toString()).contains("chunks_embedding_hnsw_kb_" + kbId);
    }
    kb.delete("small-a");
    kb.delete("small-b");
  }

  @Test
  void augmentFillsTheTemplateWithRetrievedContext() {
    AugmentedPrompt zh = kb.augment("seeds", "Pinecone 免费版可以支持多少向量存储？", 3, null);
    assertThat(zh.sources()).hasSizeBetween(1, 3);
    assertThat(zh.prompt()).startsWith("已知信息：").contains("根据上述已知信息")
        .endsWith("问题是：Pinecone 免费版可以支持多少向量存储？");
    assertThat(zh.sources()).anySatisfy(h -> assertThat(h.text()).contains("500w"));
    for (SearchHit h : zh.sources()) {
      assertThat(zh.prompt()).contains(h.text());
    }
    AugmentedPrompt en = kb.augment("seeds", "Which port does Milvus listen on?", 2, null);
    assertThat(en.prompt()).startsWith("Known information: ").endsWith("The question is: Which port does Milvus listen on?");

    kb.create(new CreateKnowledgeBase("custom", "hashing-64", null, null, "Q={question}\nC={context}"));
    kb.addText("custom", "c.txt", "模板里的 {question} 不会被再次替换。");
    AugmentedPrompt custom = kb.augment("custom", "模板", 1, null);
    assertThat(custom.prompt()).isEqualTo("Q=模板\nC=模板里的 {question} 不会被再次替换。");
    kb.delete("custom");
    assertError(() -> kb.augment("seeds", "", null, null), ErrorKind.INVALID_REQUEST, "question");
  }

  @Test
  void migrationsAreIdempotentAcrossProcesses() throws Exception {
    // two more services on the same schema start together: the advisory lock serialises their migrations
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      List<Future<Integer>> sizes = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        sizes.add(pool.submit(() -> {
          try (KnowledgeBaseService other = new KnowledgeBaseService(db.config(1), m -> seedsEmbedder)) {
            return other.list().size();
          }
        }));
      }
      for (Future<Integer> f : sizes) {
        assertThat(f.get()).isGreaterThanOrEqualTo(1);
      }
    } finally {
      pool.shutdownNow();
    }
    try (Connection c = DriverManager.getConnection(db.url()); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT version FROM schema_version ORDER BY version")) {
      List<Integer> versions = new ArrayList<>();
      while (rs.next()) {
        versions.add(rs.getInt(1));
      }
      assertThat(versions).as("each migration applied once").containsExactly(1, 2);
    }
  }
}
