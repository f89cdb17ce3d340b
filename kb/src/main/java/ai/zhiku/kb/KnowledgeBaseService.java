package ai.zhiku.kb;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.kb.db.Database;
import ai.zhiku.kb.ingest.Cancellation;
import ai.zhiku.kb.search.Fusion;
import ai.zhiku.kb.search.KeywordAnalyzer;
import com.pgvector.PGvector;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Knowledge bases on PostgreSQL + pgvector: create and delete them, ingest documents (parse, chunk, embed,
 * store atomically: {@link DocumentIngestion}), search them (dense, keyword, hybrid) and build augmented
 * prompts. All methods block on JDBC; call them off event loops. Failures are {@link ZhikuException}s:
 * NOT_FOUND for unknown knowledge bases ({@code knowledge_base_not_found}), documents and embedding models
 * ({@code model_not_found}), INVALID_REQUEST naming the parameter for bad input, PAYLOAD_TOO_LARGE for a
 * document over a {@link ai.zhiku.kb.ingest.DocumentLimits} cap, UNAVAILABLE while the database is
 * unreachable.
 *
 * <p>Storage: each knowledge base is bound to one embedding model and its dimension and gets its own partial
 * HNSW index ({@code vector_cosine_ops}) over {@code embedding::vector(dim)} for its rows only, so vectors of
 * two models never share an index. Keyword search is BM25 over character bigrams (see
 * {@link KeywordAnalyzer}) computed in SQL from a postings table.
 */
public final class KnowledgeBaseService implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(KnowledgeBaseService.class);
  public static final int DEFAULT_CHUNK_SIZE = 500;
  public static final int DEFAULT_CHUNK_OVERLAP = 100;
  public static final int DEFAULT_TOP_K = 5;
  public static final int MAX_TOP_K = 100;
  public static final long MAX_DOCUMENT_BYTES = 64L << 20;

  public static final String DEFAULT_TEMPLATE_ZH =
      "已知信息：{context} 根据上述已知信息，简洁和专业的来回答用户的问题。如果无法从中得到答案，请说 “根据已知信息无法回答该问题”"
          + " 或 “没有提供足够的相关信息”，不允许在答案中添加编造成分，答案请使用中文。问题是：{question}";
  public static final String DEFAULT_TEMPLATE_EN =
      "Known information: {context} Based on the known information above, answer the user's question concisely"
          + " and professionally. If the answer cannot be found in it, say \"The question cannot be answered"
          + " from the known information\" or \"Not enough relevant information was provided\". Do not add"
          + " anything made up to the answer. Answer in English. The question is: {question}";

  /** Letters and digits of any script (产品手册), marks, '_', '.', '-' and inner spaces; 1-64 characters. */
  private static final Pattern KB_NAME = Pattern.compile("[\\p{L}\\p{N}](?:[\\p{L}\\p{M}\\p{N}_. -]{0,62}[\\p{L}\\p{M}\\p{N}_.-])?");
  private static final Pattern PLACEHOLDER = Pattern.compile("\\{(context|question)}");
  private static final double BM25_K1 = 1.2;
  private static final double BM25_B = 0.75;

  private final Database db;
  private final Function<String, Embedder> embedders;
  private final String defaultEmbeddingModel;
  private final double keywordWeight;
  private final ExecutorService parallel = Executors.newVirtualThreadPerTaskExecutor();
  private final DocumentIngestion ingestion;

  public KnowledgeBaseService(KbConfig config, Function<String, Embedder> embedders) {
    this(config, embedders, Fusion.DEFAULT_KEYWORD_WEIGHT);
  }

  /** With a non-default hybrid keyword weight (for evaluation). */
  public KnowledgeBaseService(KbConfig config, Function<String, Embedder> embedders, double keywordWeight) {
    this.db = new Database(config.jdbcUrl(), config.poolSize());
    this.embedders = Objects.requireNonNull(embedders, "embedders");
    this.defaultEmbeddingModel = config.defaultEmbeddingModel();
    this.keywordWeight = keywordWeight;
    this.ingestion = new DocumentIngestion(db, this::embedder, config.documentLimits());
  }

  /** A knowledge base row. */
  record Kb(int id, String name, String model, int dimension, int chunkSize, int chunkOverlap,
      String template) {}

  // --- knowledge bases -------------------------------------------------------------------------------

  public KnowledgeBaseInfo create(CreateKnowledgeBase req) {
    if (req == null) {
      throw ZhikuException.invalid("name", "a knowledge base needs a name");
    }
    String name = validName(req.name());
    String model = req.embeddingModel() == null || req.embeddingModel().isBlank()
        ? defaultEmbeddingModel : req.embeddingModel().strip();
    int chunkSize = req.chunkSize() == null ? DEFAULT_CHUNK_SIZE : req.chunkSize();
    if (chunkSize < 50 || chunkSize > 8000) {
      throw ZhikuException.invalid("chunk_size", "chunk_size must be between 50 and 8000 characters, got " + chunkSize);
    }
    int overlap = req.chunkOverlap() == null ? Math.min(DEFAULT_CHUNK_OVERLAP, chunkSize / 5) : req.chunkOverlap();
    if (overlap < 0 || overlap > chunkSize / 2) {
      throw ZhikuException.invalid("chunk_overlap",
          "chunk_overlap must be between 0 and half of chunk_size (" + chunkSize / 2 + "), got " + overlap);
    }
    String template = req.promptTemplate();
    if (template != null) {
      if (template.isBlank()) {
        template = null;
      } else if (!template.contains("{context}") || !template.contains("{question}") || template.length() > 8000) {
        throw ZhikuException.invalid("prompt_template",
            "prompt_template must contain {context} and {question} and be at most 8000 characters");
      }
    }
    String description = req.description() == null || req.description().isBlank() ? null : req.description().strip();
    if (description != null && description.length() > 2000) {
      throw ZhikuException.invalid("description", "description must be at most 2000 characters, got " + description.length());
    }
    int dimension = embedder(model).dimension();
    String tpl = template;
    int id = db.inTransaction(c -> {
      Integer newId;
      try (PreparedStatement ps = c.prepareStatement("""
          INSERT INTO knowledge_bases (name, embedding_model, dimension, chunk_size, chunk_overlap, prompt_template, description)
          VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING id""")) {
        ps.setString(1, name);
        ps.setString(2, model);
        ps.setInt(3, dimension);
        ps.setInt(4, chunkSize);
        ps.setInt(5, overlap);
        ps.setString(6, tpl);
        ps.setString(7, description);
        try (ResultSet rs = ps.executeQuery()) {
          newId = rs.next() ? rs.getInt(1) : null;
        }
      }
      if (newId == null) {
        throw new ZhikuException(ErrorKind.INVALID_REQUEST, "knowledge base '" + name + "' already exists",
            "name", "knowledge_base_exists");
      }
      // identifiers below are integers from the database, never user text
      try (Statement s = c.createStatement()) {
        s.execute("CREATE INDEX " + hnswIndexName(newId) + " ON chunks USING hnsw ((embedding::vector("
            + dimension + ")) vector_cosine_ops) WHERE kb_id = " + newId);
      }
      return newId;
    });
    return get(name);
  }

  public List<KnowledgeBaseInfo> list() {
    return db.call(c -> {
      try (PreparedStatement ps = c.prepareStatement(INFO_SQL + " ORDER BY k.name");
          ResultSet rs = ps.executeQuery()) {
        List<KnowledgeBaseInfo> out = new ArrayList<>();
        while (rs.next()) {
          out.add(info(rs));
        }
        return out;
      }
    });
  }

  public KnowledgeBaseInfo get(String name) {
    String n = validName(name);
    return db.call(c -> {
      try (PreparedStatement ps = c.prepareStatement(INFO_SQL + " WHERE k.name = ?")) {
        ps.setString(1, n);
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            throw kbNotFound(n);
          }
          return info(rs);
        }
      }
    });
  }

  private static final String INFO_SQL = """
      SELECT k.name, k.embedding_model, k.dimension, k.chunk_size, k.chunk_overlap, k.prompt_template, k.created_at,
             coalesce(d.documents, 0), coalesce(d.chunks, 0), k.description
      FROM knowledge_bases k
      LEFT JOIN LATERAL (SELECT count(*) AS documents, sum(chunk_count) AS chunks
                         FROM documents WHERE kb_id = k.id) d ON true""";

  private static KnowledgeBaseInfo info(ResultSet rs) throws SQLException {
    return new KnowledgeBaseInfo(rs.getString(1), rs.getString(2), rs.getInt(3), rs.getInt(4), rs.getInt(5),
        rs.getString(6), rs.getTimestamp(7).toInstant(), rs.getLong(8), rs.getLong(9), rs.getString(10));
  }

  public void delete(String name) {
    String n = validName(name);
    db.inTransaction(c -> {
      Kb kb = lockKb(c, n, true);
      for (String table : List.of("chunk_terms", "kb_terms")) {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE kb_id = ?")) {
          ps.setInt(1, kb.id());
          ps.executeUpdate();
        }
      }
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM chunks WHERE kb_id = ?")) {
        ps.setInt(1, kb.id());
        ps.executeUpdate();
      }
      try (Statement s = c.createStatement()) {
        s.execute("DROP INDEX IF EXISTS " + hnswIndexName(kb.id()));
      }
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM knowledge_bases WHERE id = ?")) {
        ps.setInt(1, kb.id());
        ps.executeUpdate();
      }
      return null;
    });
  }

  // --- documents -------------------------------------------------------------------------------------

  /** Adds plain text under a document name (the JSON {name, text} upload). */
  public AddDocumentResult addText(String kbName, String documentName, String text) {
    return addText(kbName, documentName, text, Cancellation.NONE);
  }

  /** {@link #addText(String, String, String)} that stops, storing nothing, once {@code cancellation} is cancelled. */
  public AddDocumentResult addText(String kbName, String documentName, String text, Cancellation cancellation) {
    if (text == null) {
      throw ZhikuException.invalid("text", "text is required");
    }
    return addDocument(kbName, documentName, text.getBytes(StandardCharsets.UTF_8), "text/plain", cancellation);
  }

  /** {@link #addDocument(String, String, byte[], String, Cancellation)} that is never cancelled. */
  public AddDocumentResult addDocument(String kbName, String fileName, byte[] content, String contentType) {
    return addDocument(kbName, fileName, content, contentType, Cancellation.NONE);
  }

  /**
   * Parses, chunks, embeds and stores a document ({@link DocumentIngestion}); a cancelled upload stops at its
   * next check and stores nothing.
   */
  public AddDocumentResult addDocument(String kbName, String fileName, byte[] content, String contentType,
      Cancellation cancellation) {
    return ingestion.add(kbName, fileName, content, contentType, cancellation);
  }

  static float[] checkDimension(Kb kb, float[] v) {
    if (v == null || v.length != kb.dimension()) {
      throw ZhikuException.internal("embedding model '" + kb.model() + "' returned a vector of dimension "
          + (v == null ? 0 : v.length) + "; knowledge base '" + kb.name() + "' is bound to dimension "
          + kb.dimension(), null);
    }
    return v;
  }

  public List<DocumentInfo> listDocuments(String kbName) {
    Kb kb = kb(validName(kbName));
    return db.call(c -> {
      try (PreparedStatement ps = c.prepareStatement(DOC_SQL + " WHERE kb_id = ? ORDER BY name")) {
        ps.setInt(1, kb.id());
        try (ResultSet rs = ps.executeQuery()) {
          List<DocumentInfo> out = new ArrayList<>();
          while (rs.next()) {
            out.add(doc(rs));
          }
          return out;
        }
      }
    });
  }

  public void deleteDocument(String kbName, String documentId) {
    Kb kb = kb(validName(kbName));
    UUID id;
    try {
      id = UUID.fromString(documentId == null ? "" : documentId);
    } catch (IllegalArgumentException e) {
      throw ZhikuException.invalid("document_id", "document id must be a UUID");
    }
    boolean deleted = db.inTransaction(c -> {
      lockKb(c, kb.name(), false);
      String name;
      try (PreparedStatement ps = c.prepareStatement("SELECT name FROM documents WHERE id = ? AND kb_id = ?")) {
        ps.setObject(1, id);
        ps.setInt(2, kb.id());
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            return false;
          }
          name = rs.getString(1);
        }
      }
      // the same lock uploads of this name take, so a delete and a replace never interleave
      try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_xact_lock(?, hashtext(?))")) {
        ps.setInt(1, kb.id());
        ps.setString(2, name);
        ps.execute();
      }
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT 1 FROM documents WHERE id = ? AND kb_id = ? FOR UPDATE")) {
        ps.setObject(1, id);
        ps.setInt(2, kb.id());
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            return false;
          }
        }
      }
      DocumentIngestion.removeChunks(c, kb.id(), id);
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM documents WHERE id = ? AND kb_id = ?")) {
        ps.setObject(1, id);
        ps.setInt(2, kb.id());
        return ps.executeUpdate() > 0;
      }
    });
    if (!deleted) {
      throw ZhikuException.notFound("document '" + documentId + "' is not in knowledge base '" + kb.name() + "'",
          "document_not_found");
    }
  }

  private static final String DOC_SQL =
      "SELECT id, name, content_hash, content_type, size_bytes, chunk_count, created_at, updated_at FROM documents";

  private static DocumentInfo doc(ResultSet rs) throws SQLException {
    return new DocumentInfo(rs.getObject(1, UUID.class).toString(), rs.getString(2), rs.getString(3),
        rs.getString(4), rs.getLong(5), rs.getInt(6), rs.getTimestamp(7).toInstant(), rs.getTimestamp(8).toInstant());
  }

  private DocumentInfo findDocument(int kbId, String name) {
    return db.call(c -> findDocument(c, kbId, name));
  }

  static DocumentInfo findDocument(Connection c, int kbId, String name) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(DOC_SQL + " WHERE kb_id = ? AND name = ?")) {
      ps.setInt(1, kbId);
      ps.setString(2, name);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? doc(rs) : null;
      }
    }
  }

  // --- search ----------------------------------------------------------------------------------------

  /**
   * Retrieves the chunks that best answer a query.
   *
   * @param topK number of hits, 1..100 (null: 5)
   * @param scoreThreshold drop hits scoring below it, 0..1 (null: keep all)
   * @param mode null means hybrid
   */
  public List<SearchHit> search(String kbName, String query, Integer topK, Double scoreThreshold, SearchMode mode) {
    Kb kb = kb(validName(kbName));
    return search(kb, query, topK, scoreThreshold, mode == null ? SearchMode.HYBRID : mode, "query");
  }

  private List<SearchHit> search(Kb kb, String query, Integer topK, Double threshold, SearchMode mode,
      String queryParam) {
    if (query == null || query.isBlank()) {
      throw ZhikuException.invalid(queryParam, queryParam + " must not be empty");
    }
    if (query.length() > 8000) {
      throw ZhikuException.invalid(queryParam, queryParam + " must be at most 8000 characters");
    }
    int k = topK == null ? DEFAULT_TOP_K : topK;
    if (k < 1 || k > MAX_TOP_K) {
      throw ZhikuException.invalid("top_k", "top_k must be between 1 and " + MAX_TOP_K + ", got " + k);
    }
    if (threshold != null && (threshold.isNaN() || threshold < 0 || threshold > 1)) {
      throw ZhikuException.invalid("score_threshold", "score_threshold must be between 0 and 1");
    }
    double min = threshold == null ? Double.NEGATIVE_INFINITY : threshold;
    List<Row> rows = switch (mode) {
      case DENSE -> dense(kb, query, k);
      case KEYWORD -> keyword(kb, query, k);
      case HYBRID -> hybrid(kb, query, k);
    };
    List<SearchHit> hits = new ArrayList<>();
    for (Row r : rows) {
      if (r.score >= min && hits.size() < k) {
        hits.add(new SearchHit(r.text, r.score, r.document, r.chunkIndex));
      }
    }
    return hits;
  }

  private record Row(long id, String text, String document, int chunkIndex, double score) {}

  private List<Row> hybrid(Kb kb, String query, int k) {
    int n = Math.max(30, 4 * k);
    // the two retrievals run side by side on two pooled connections
    CompletableFuture<List<Row>> denseFuture = CompletableFuture.supplyAsync(() -> dense(kb, query, n), parallel);
    List<Row> kw = keyword(kb, query, n);
    List<Row> dn;
    try {
      dn = denseFuture.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof ZhikuException z
          && (z.kind() == ErrorKind.UNAVAILABLE || z.kind() == ErrorKind.OVERLOADED)) {
        // the keyword half worked, so the database is up: the embedding model is away or busy. Answer from
        // keyword search alone rather than failing retrieval (and a chat that names this knowledge base).
        LOG.warn("hybrid search in '{}' fell back to keyword only: {}", kb.name(), z.getMessage());
        dn = List.of();
      } else if (e.getCause() instanceof RuntimeException r) {
        throw r;
      } else {
        throw e;
      }
    }
    Map<Long, Row> byId = new LinkedHashMap<>();
    List<Fusion.Scored> kws = new ArrayList<>();
    List<Fusion.Scored> dns = new ArrayList<>();
    for (Row r : kw) {
      byId.putIfAbsent(r.id, r);
      kws.add(new Fusion.Scored(r.id, r.score));
    }
    for (Row r : dn) {
      byId.putIfAbsent(r.id, r);
      dns.add(new Fusion.Scored(r.id, r.score));
    }
    List<Row> out = new ArrayList<>();
    for (Fusion.Fused f : Fusion.fuse(kws, dns, keywordWeight)) {
      Row r = byId.get(f.id());
      out.add(new Row(r.id, r.text, r.document, r.chunkIndex, f.score()));
    }
    return out;
  }

  private List<Row> dense(Kb kb, String query, int limit) {
    List<float[]> v = embedder(kb.model()).embed(List.of(query), true);
    if (v.size() != 1) {
      throw ZhikuException.internal("embedding model returned " + v.size() + " vectors for one query", null);
    }
    PGvector q = new PGvector(checkDimension(kb, v.get(0)));
    // the cast and the kb id must be literals to match the knowledge base's partial HNSW index expression;
    // both are integers from the database
    String cast = "::vector(" + kb.dimension() + ")";
    String sql = "WITH nn AS MATERIALIZED (SELECT id, embedding" + cast + " <=> ?" + cast + " AS dist FROM chunks"
        + " WHERE kb_id = " + kb.id() + " ORDER BY embedding" + cast + " <=> ?" + cast + " LIMIT ?)"
        + " SELECT c.id, c.text, d.name, c.chunk_index, 1 - nn.dist FROM nn"
        + " JOIN chunks c ON c.id = nn.id JOIN documents d ON d.id = c.document_id ORDER BY nn.dist, c.id";
    return db.inTransaction(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT set_config('hnsw.ef_search', ?, true)")) {
        ps.setString(1, Integer.toString(Math.min(1000, Math.max(40, 2 * limit))));
        ps.execute();
      }
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        ps.setObject(1, q);
        ps.setObject(2, q);
        ps.setInt(3, limit);
        return rows(ps);
      }
    });
  }

  /** One term's BM25 contribution for posting p, weight w and statistics s (constants are Java literals). */
  private static final String BM25_TERM = ("w.qtf * w.idf * p.tf * (%1$s + 1)"
      + " / (p.tf + %1$s * (1 - %2$s + %2$s * p.doc_len / s.avgdl))").formatted(BM25_K1, BM25_B);

  /**
   * BM25 over the postings. Statistics come from documents (chunk and term totals) and kb_terms (df), so no
   * query counts postings. To keep latency flat on large knowledge bases, terms found in more than
   * COMMON_TERM_FRACTION of the chunks do not drive candidate generation when the query has rarer
   * terms: candidates are ranked by the rarer terms, then the common terms' contributions are added for those
   * candidates only (index lookups), and the final order uses the full score.
   * Parameters: terms, counts, kb, kb, common df fraction, candidates, kb, kb, limit.
   */
  private static final String BM25_SQL = """
      WITH q AS (SELECT * FROM unnest(?::text[], ?::integer[]) AS q(term, qtf)),
      stats AS (SELECT greatest(coalesce(sum(chunk_count), 0), 1)::float8 AS n,
                       greatest(coalesce(sum(term_count), 0)::float8 / greatest(coalesce(sum(chunk_count), 0), 1), 1)
                         AS avgdl
                FROM documents WHERE kb_id = ?),
      w AS (SELECT q.term, q.qtf, t.df, ln(1 + (s.n - t.df + 0.5) / (t.df + 0.5)) AS idf
            FROM q JOIN kb_terms t ON t.kb_id = ? AND t.term = q.term CROSS JOIN stats s
            WHERE t.df > 0),
      cut AS (SELECT CASE WHEN EXISTS (SELECT 1 FROM w WHERE w.df <= ? * s.n) THEN ? * s.n
                          ELSE 'infinity'::float8 END AS df_max
              FROM stats s),
      first AS (SELECT p.chunk_id, sum(%1$s) AS score
                FROM w CROSS JOIN cut CROSS JOIN stats s
                JOIN chunk_terms p ON p.kb_id = ? AND p.term = w.term
                WHERE w.df <= cut.df_max
                GROUP BY p.chunk_id ORDER BY score DESC, p.chunk_id LIMIT ?),
      rest AS (SELECT f.chunk_id, sum(%1$s) AS score
               FROM first f CROSS JOIN cut CROSS JOIN stats s
               JOIN w ON w.df > cut.df_max
               JOIN chunk_terms p ON p.kb_id = ? AND p.term = w.term AND p.chunk_id = f.chunk_id
               GROUP BY f.chunk_id),
      top AS (SELECT f.chunk_id, f.score + coalesce(r.score, 0) AS score
              FROM first f LEFT JOIN rest r ON r.chunk_id = f.chunk_id
              ORDER BY score DESC, f.chunk_id LIMIT ?),
      best AS (SELECT sum(qtf * idf) * (%2$s + 1) AS upper FROM w)
      SELECT c.id, c.text, d.name, c.chunk_index, top.score / best.upper
      FROM top JOIN chunks c ON c.id = top.chunk_id JOIN documents d ON d.id = c.document_id CROSS JOIN best
      ORDER BY top.score DESC, c.id""".formatted(BM25_TERM, BM25_K1);

  /**
   * Terms in more than this share of a knowledge base's chunks are scored only on candidates (see BM25_SQL).
   * Tuning knob for very large knowledge bases: system property {@code zhiku.kb.commonTermFraction}.
   */
  static final double COMMON_TERM_FRACTION =
      Double.parseDouble(System.getProperty("zhiku.kb.commonTermFraction", "0.1"));

  private List<Row> keyword(Kb kb, String query, int limit) {
    Map<String, Integer> terms = KeywordAnalyzer.queryTerms(query);
    if (terms.isEmpty()) {
      return List.of();
    }
    return db.inTransaction(c -> {
      try (Statement s = c.createStatement()) {
        s.execute("SET LOCAL work_mem = '64MB'"); // aggregate candidates in memory, not on disk
      }
      try (PreparedStatement ps = c.prepareStatement(BM25_SQL)) {
        ps.setArray(1, c.createArrayOf("text", terms.keySet().toArray()));
        ps.setArray(2, c.createArrayOf("integer", terms.values().toArray()));
        ps.setInt(3, kb.id());
        ps.setInt(4, kb.id());
        ps.setDouble(5, COMMON_TERM_FRACTION);
        ps.setDouble(6, COMMON_TERM_FRACTION);
        ps.setInt(7, kb.id());
        ps.setInt(8, Math.max(200, 4 * limit));
        ps.setInt(9, kb.id());
        ps.setInt(10, limit);
        return rows(ps);
      }
    });
  }

  private static List<Row> rows(PreparedStatement ps) throws SQLException {
    try (ResultSet rs = ps.executeQuery()) {
      List<Row> out = new ArrayList<>();
      while (rs.next()) {
        out.add(new Row(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getInt(4), rs.getDouble(5)));
      }
      return out;
    }
  }

  // --- augmentation ----------------------------------------------------------------------------------

  /**
   * Retrieves context for a question (hybrid search) and fills the knowledge base's prompt template: its own
   * template if it has one, otherwise the Chinese default, or the English one for questions without CJK text.
   */
  public AugmentedPrompt augment(String kbName, String question, Integer topK, Double scoreThreshold) {
    Kb kb = kb(validName(kbName));
    List<SearchHit> hits = search(kb, question, topK, scoreThreshold, SearchMode.HYBRID, "question");
    StringBuilder context = new StringBuilder();
    for (SearchHit h : hits) {
      if (!context.isEmpty()) {
        context.append("\n\n");
      }
      context.append(h.text());
    }
    String template = kb.template() != null ? kb.template()
        : KeywordAnalyzer.containsCjk(question) ? DEFAULT_TEMPLATE_ZH : DEFAULT_TEMPLATE_EN;
    return new AugmentedPrompt(fill(template, context.toString(), question.strip()), hits);
  }

  /** Substitutes {context} and {question} in one pass (so text inside either is never re-substituted). */
  static String fill(String template, String context, String question) {
    Matcher m = PLACEHOLDER.matcher(template);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      m.appendReplacement(sb, Matcher.quoteReplacement(m.group(1).equals("context") ? context : question));
    }
    m.appendTail(sb);
    return sb.toString();
  }

  // --- helpers ---------------------------------------------------------------------------------------

  private Embedder embedder(String model) {
    Embedder e = embedders.apply(model);
    if (e == null) {
      throw ZhikuException.notFound("embedding model '" + model + "' is not served", "model_not_found");
    }
    return e;
  }

  private Kb kb(String name) {
    return db.call(c -> readKb(c, name, ""));
  }

  static Kb lockKb(Connection c, String name, boolean exclusive) throws SQLException {
    return readKb(c, name, exclusive ? " FOR UPDATE" : " FOR KEY SHARE");
  }

  static Kb readKb(Connection c, String name, String lock) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT id, name, embedding_model, dimension, chunk_size,"
        + " chunk_overlap, prompt_template FROM knowledge_bases WHERE name = ?" + lock)) {
      ps.setString(1, name);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw kbNotFound(name);
        }
        return new Kb(rs.getInt(1), rs.getString(2), rs.getString(3), rs.getInt(4), rs.getInt(5), rs.getInt(6),
            rs.getString(7));
      }
    }
  }

  static ZhikuException kbNotFound(String name) {
    return ZhikuException.notFound("knowledge base '" + name + "' does not exist", "knowledge_base_not_found");
  }

  static String validName(String name) {
    if (name == null || !KB_NAME.matcher(name).matches()) {
      throw ZhikuException.invalid("name", "knowledge base name must be 1-64 characters of letters and digits"
          + " (any script), '_', '-', '.' and inner spaces, starting with a letter or digit");
    }
    return name;
  }

  /** Whether every surrogate in {@code s} is half of a pair. */
  static boolean wellFormed(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) i++;
      else if (Character.isSurrogate(c)) return false;
    }
    return true;
  }

  static String validDocumentName(String name) {
    if (name == null || name.isBlank()) {
      throw ZhikuException.invalid("file", "a document needs a file name");
    }
    String n = name.strip().replace('\\', '/');
    if (n.length() > 255 || n.startsWith("/") || n.contains("//")
        || n.chars().anyMatch(ch -> ch < 0x20 || ch == 0x7f) || !wellFormed(n)) {
      throw ZhikuException.invalid("file", "document names are relative paths of at most 255 characters"
          + " without control characters or broken UTF-16 (a lone surrogate)");
    }
    for (String part : n.split("/")) {
      if (part.equals("..") || part.equals(".")) {
        throw ZhikuException.invalid("file", "document names must not contain '.' or '..' path segments");
      }
    }
    return n;
  }

  private static String hnswIndexName(int kbId) {
    return "chunks_embedding_hnsw_kb_" + kbId;
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    parallel.shutdownNow();
    db.close();
  }
}
