package ai.zhiku.kb;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.kb.KnowledgeBaseService.Kb;
import ai.zhiku.kb.db.Database;
import ai.zhiku.kb.ingest.Cancellation;
import ai.zhiku.kb.ingest.Chunk;
import ai.zhiku.kb.ingest.Chunker;
import ai.zhiku.kb.ingest.DocumentLimits;
import ai.zhiku.kb.ingest.DocumentParser;
import ai.zhiku.kb.search.KeywordAnalyzer;
import com.pgvector.PGvector;
import java.nio.charset.StandardCharsets;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;

/**
 * Adding one document to a knowledge base: parse (within {@link DocumentLimits}), chunk, embed, and store it
 * with its postings in one transaction. A {@link Cancellation} is checked after parsing and chunking, between
 * embedding batches and once more before the transaction commits, so a cancelled upload stores nothing.
 */
final class DocumentIngestion {
  private static final int EMBED_BATCH = 32;

  private final Database db;
  private final Function<String, Embedder> embedders;
  private final DocumentLimits limits;

  /** @param embedders the embedder of a model, never null (an unknown model throws) */
  DocumentIngestion(Database db, Function<String, Embedder> embedders, DocumentLimits limits) {
    this.db = db;
    this.embedders = embedders;
    this.limits = limits;
  }

  /**
   * Parses, chunks, embeds and stores a document. The same name with the same bytes changes nothing; the
   * same name with new bytes replaces that document's chunks in one transaction. Concurrent uploads of one
   * name are serialised by a transaction-scoped advisory lock (and a unique constraint behind it).
   */
  AddDocumentResult add(String kbName, String fileName, byte[] content, String contentType, Cancellation cancel) {
    cancel.check(); // waited in the queue for a client that has gone
    String n = KnowledgeBaseService.validName(kbName);
    String docName = KnowledgeBaseService.validDocumentName(fileName);
    if (content == null) {
      throw ZhikuException.invalid("file", "file content is required");
    }
    if (content.length > KnowledgeBaseService.MAX_DOCUMENT_BYTES) {
      throw new ZhikuException(ErrorKind.PAYLOAD_TOO_LARGE,
          "document is larger than " + (KnowledgeBaseService.MAX_DOCUMENT_BYTES >> 20) + " MiB", "file", null);
    }
    String type = contentType == null || contentType.isBlank() ? "application/octet-stream" : contentType.strip();
    DocumentParser.formatOf(docName, type); // reject unsupported types before any work
    String hash = KnowledgeBaseService.sha256(content);
    Kb kb = db.call(c -> KnowledgeBaseService.readKb(c, n, ""));
    DocumentInfo existing = db.call(c -> KnowledgeBaseService.findDocument(c, kb.id(), docName));
    if (existing != null && existing.contentHash().equals(hash)) {
      return new AddDocumentResult(existing, AddDocumentResult.Status.UNCHANGED);
    }

    // Postgres text cannot hold NUL: a document's NULs (binary junk in a .txt, a parser's padding) are dropped
    String text = DocumentParser.parse(docName, content, type, limits, cancel).replace("\u0000", "");
    cancel.check();
    List<Chunk> chunks = new Chunker(kb.chunkSize(), kb.chunkOverlap()).split(text);
    cancel.check();
    if (chunks.isEmpty()) {
      throw ZhikuException.invalid("file", "document '" + docName + "' contains no text");
    }
    List<String> chunkHashes = new ArrayList<>(chunks.size());
    List<Map<String, Integer>> termFreqs = new ArrayList<>(chunks.size());
    long termTotal = 0;
    for (Chunk ch : chunks) {
      if ((chunkHashes.size() & 255) == 255) {
        cancel.check();
      }
      chunkHashes.add(KnowledgeBaseService.sha256(ch.indexedText().getBytes(StandardCharsets.UTF_8)));
      Map<String, Integer> tf = KeywordAnalyzer.termFrequencies(ch.indexedText());
      termFreqs.add(tf);
      termTotal += tf.values().stream().mapToInt(Integer::intValue).sum();
    }
    final long docTerms = termTotal;
    List<float[]> vectors = embedChunks(kb, chunks, chunkHashes, existing, cancel);
    cancel.check();

    return db.inTransaction(c -> {
      // the knowledge base must still exist and must not be deleted under us
      Kb locked = KnowledgeBaseService.lockKb(c, n, false);
      if (locked.id() != kb.id()) {
        throw KnowledgeBaseService.kbNotFound(n);
      }
      try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_xact_lock(?, hashtext(?))")) {
        ps.setInt(1, kb.id());
        ps.setString(2, docName);
        ps.execute();
      }
      DocumentInfo current = KnowledgeBaseService.findDocument(c, kb.id(), docName);
      if (current != null && current.contentHash().equals(hash)) {
        return new AddDocumentResult(current, AddDocumentResult.Status.UNCHANGED);
      }
      UUID docId;
      AddDocumentResult.Status status;
      if (current != null) {
        docId = UUID.fromString(current.id());
        removeChunks(c, kb.id(), docId);
        try (PreparedStatement ps = c.prepareStatement("""
            UPDATE documents SET content_hash = ?, content_type = ?, size_bytes = ?, chunk_count = ?,
                   term_count = ?, updated_at = now() WHERE id = ?""")) {
          ps.setString(1, hash);
          ps.setString(2, type);
          ps.setLong(3, content.length);
          ps.setInt(4, chunks.size());
          ps.setLong(5, docTerms);
          ps.setObject(6, docId);
          ps.executeUpdate();
        }
        status = AddDocumentResult.Status.REPLACED;
      } else {
        try (PreparedStatement ps = c.prepareStatement("""
            INSERT INTO documents (kb_id, name, content_hash, content_type, size_bytes, chunk_count, term_count)
            VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id""")) {
          ps.setInt(1, kb.id());
          ps.setString(2, docName);
          ps.setString(3, hash);
          ps.setString(4, type);
          ps.setLong(5, content.length);
          ps.setInt(6, chunks.size());
          ps.setLong(7, docTerms);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            docId = rs.getObject(1, UUID.class);
          }
        }
        status = AddDocumentResult.Status.CREATED;
      }
      insertChunks(c, kb.id(), docId, chunks, chunkHashes, termFreqs, vectors);
      cancel.check(); // the last moment: throwing here rolls the whole document back
      return new AddDocumentResult(KnowledgeBaseService.findDocument(c, kb.id(), docName), status);
    });
  }

  private List<float[]> embedChunks(Kb kb, List<Chunk> chunks, List<String> hashes, DocumentInfo existing,
      Cancellation cancel) {
    Map<String, float[]> reuse = new HashMap<>();
    if (existing != null) {
      db.call(c -> {
        try (PreparedStatement ps = c.prepareStatement(
            "SELECT content_hash, embedding::text FROM chunks WHERE document_id = ?")) {
          ps.setObject(1, UUID.fromString(existing.id()));
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              reuse.put(rs.getString(1), new PGvector(rs.getString(2)).toArray());
            }
          }
        }
        return null;
      });
    }
    float[][] out = new float[chunks.size()][];
    List<Integer> todo = new ArrayList<>();
    for (int i = 0; i < chunks.size(); i++) {
      float[] v = reuse.get(hashes.get(i));
      if (v != null && v.length == kb.dimension()) {
        out[i] = v;
      } else {
        todo.add(i);
      }
    }
    Embedder embedder = embedders.apply(kb.model());
    for (int from = 0; from < todo.size(); from += EMBED_BATCH) {
      cancel.check();
      List<Integer> batch = todo.subList(from, Math.min(todo.size(), from + EMBED_BATCH));
      List<String> texts = new ArrayList<>(batch.size());
      for (int i : batch) {
        texts.add(chunks.get(i).indexedText());
      }
      List<float[]> vs = embedder.embed(texts, false);
      if (vs.size() != batch.size()) {
        throw ZhikuException.internal("embedding model returned " + vs.size() + " vectors for " + batch.size()
            + " texts", null);
      }
      for (int k = 0; k < batch.size(); k++) {
        out[batch.get(k)] = KnowledgeBaseService.checkDimension(kb, vs.get(k));
      }
    }
    return List.of(out);
  }

  /**
   * Removes a document's chunks, their postings and their share of the document frequencies. The df updates
   * go through INSERT ... ON CONFLICT in term order, the same order ingestion uses, so concurrent writers to one
   * knowledge base lock kb_terms rows in one order.
   */
  static void removeChunks(Connection c, int kbId, UUID docId) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("""
        INSERT INTO kb_terms (kb_id, term, df)
        SELECT ?, p.term, -count(*) FROM chunk_terms p
        WHERE p.kb_id = ? AND p.chunk_id IN (SELECT id FROM chunks WHERE document_id = ?)
        GROUP BY p.term ORDER BY p.term
        ON CONFLICT (kb_id, term) DO UPDATE SET df = kb_terms.df + EXCLUDED.df""")) {
      ps.setInt(1, kbId);
      ps.setInt(2, kbId);
      ps.setObject(3, docId);
      ps.executeUpdate();
    }
    try (PreparedStatement ps = c.prepareStatement(
        "DELETE FROM chunk_terms WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = ?)")) {
      ps.setObject(1, docId);
      ps.executeUpdate();
    }
    try (PreparedStatement ps = c.prepareStatement("DELETE FROM chunks WHERE document_id = ?")) {
      ps.setObject(1, docId);
      ps.executeUpdate();
    }
  }

  private static void insertChunks(Connection c, int kbId, UUID docId, List<Chunk> chunks, List<String> hashes,
      List<Map<String, Integer>> termFreqs, List<float[]> vectors) throws SQLException {
    long[] ids = new long[chunks.size()];
    try (PreparedStatement ps = c.prepareStatement("SELECT nextval('chunks_id_seq') FROM generate_series(1, ?)")) {
      ps.setInt(1, chunks.size());
      try (ResultSet rs = ps.executeQuery()) {
        for (int i = 0; rs.next(); i++) {
          ids[i] = rs.getLong(1);
        }
      }
    }
    List<String> terms = new ArrayList<>();
    List<Long> termChunk = new ArrayList<>();
    List<Integer> termTf = new ArrayList<>();
    List<Integer> termLen = new ArrayList<>();
    java.util.TreeMap<String, Integer> df = new java.util.TreeMap<>();
    try (PreparedStatement ps = c.prepareStatement("""
        INSERT INTO chunks (id, kb_id, document_id, chunk_index, context, text, content_hash, term_count, embedding)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""")) {
      for (int i = 0; i < chunks.size(); i++) {
        Chunk ch = chunks.get(i);
        Map<String, Integer> tf = termFreqs.get(i);
        int len = tf.values().stream().mapToInt(Integer::intValue).sum();
        ps.setLong(1, ids[i]);
        ps.setInt(2, kbId);
        ps.setObject(3, docId);
        ps.setInt(4, ch.index());
        ps.setString(5, ch.context());
        ps.setString(6, ch.text());
        ps.setString(7, hashes.get(i));
        ps.setInt(8, len);
        ps.setObject(9, new PGvector(vectors.get(i)));
        ps.addBatch();
        for (Map.Entry<String, Integer> e : tf.entrySet()) {
          terms.add(e.getKey());
          termChunk.add(ids[i]);
          termTf.add(e.getValue());
          termLen.add(len);
          df.merge(e.getKey(), 1, Integer::sum);
        }
      }
      ps.executeBatch();
    }
    final int slice = 50_000;
    try (PreparedStatement ps = c.prepareStatement("""
        INSERT INTO chunk_terms (kb_id, term, chunk_id, tf, doc_len)
        SELECT ?, u.term, u.chunk_id, u.tf, u.doc_len
        FROM unnest(?::text[], ?::bigint[], ?::integer[], ?::integer[]) AS u(term, chunk_id, tf, doc_len)""")) {
      for (int from = 0; from < terms.size(); from += slice) {
        int to = Math.min(terms.size(), from + slice);
        ps.setInt(1, kbId);
        Array a1 = c.createArrayOf("text", terms.subList(from, to).toArray());
        Array a2 = c.createArrayOf("bigint", termChunk.subList(from, to).toArray());
        Array a3 = c.createArrayOf("integer", termTf.subList(from, to).toArray());
        Array a4 = c.createArrayOf("integer", termLen.subList(from, to).toArray());
        ps.setArray(2, a1);
        ps.setArray(3, a2);
        ps.setArray(4, a3);
        ps.setArray(5, a4);
        ps.executeUpdate();
      }
    }
    try (PreparedStatement ps = c.prepareStatement("""
        INSERT INTO kb_terms (kb_id, term, df)
        SELECT ?, u.term, u.df FROM unnest(?::text[], ?::integer[]) AS u(term, df) ORDER BY u.term
        ON CONFLICT (kb_id, term) DO UPDATE SET df = kb_terms.df + EXCLUDED.df""")) {
      ps.setInt(1, kbId);
      ps.setArray(2, c.createArrayOf("text", df.keySet().toArray()));
      ps.setArray(3, c.createArrayOf("integer", df.values().toArray()));
      ps.executeUpdate();
    }
  }
}
