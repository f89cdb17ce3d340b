package ai.zhiku.api;

import static ai.zhiku.api.SpineTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.engine.EmbedItem;
import ai.zhiku.common.engine.EmbeddingEngine;
import ai.zhiku.common.engine.EmbeddingModelInfo;
import ai.zhiku.common.engine.EmbeddingResult;
import ai.zhiku.worker.HostedModel;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.Deflater;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Uploads that must not make the server do unbounded work, through the HTTP API against the real Postgres
 * (ZHIKU_TEST_DATABASE_URL): a .docx zip bomb is a 413 in OpenAI's error shape naming the limit, and an upload
 * whose client disconnects while it is embedded (a slow embedding model) stops and stores nothing.
 */
class KbUploadLimitsTest {
  static TestCluster cluster;
  static final String KB = "kblimits_" + UUID.randomUUID().toString().substring(0, 8);
  static final AtomicInteger embedCalls = new AtomicInteger();

  /** 16-dimensional vectors from character codes, 300 ms a call (passages only). */
  static final class SlowEmbedding implements EmbeddingEngine {
    @Override
    public EmbeddingModelInfo info() {
      return new EmbeddingModelInfo(16, 8192, "");
    }

    @Override
    public CompletableFuture<EmbeddingResult> embed(List<EmbedItem> inputs, boolean query, boolean truncate) {
      if (!query) {
        embedCalls.incrementAndGet();
      }
      return CompletableFuture.supplyAsync(() -> {
        List<float[]> out = new ArrayList<>();
        int tokens = 0;
        for (EmbedItem item : inputs) {
          float[] v = new float[16];
          item.text().chars().forEach(ch -> v[ch % 16] += 1);
          double norm = 0;
          for (float x : v) norm += x * x;
          for (int i = 0; i < v.length; i++) v[i] = (float) (norm == 0 ? (i == 0 ? 1 : 0) : v[i] / Math.sqrt(norm));
          out.add(v);
          tokens += item.text().length();
        }
        return new EmbeddingResult(out, tokens);
      }, CompletableFuture.delayedExecutor(query ? 0 : 300, TimeUnit.MILLISECONDS));
    }

    @Override
    public void close() {}
  }

  @BeforeAll
  static void start() throws Exception {
    cluster = new TestCluster("shortest_queue", 5000);
    cluster.addWorker(new HostedModel.Embedding(List.of("slow-embed"), new SlowEmbedding()), 8, 64);
    cluster.startApi(List.of(), 1 << 20, KnowledgeBaseApiTest.databaseUrl());
    cluster.syncTable();
    HttpResponse<String> created = cluster.post("/v1/knowledge_bases",
        new JsonObject().put("name", KB).put("embedding_model", "slow-embed").encode());
    assertThat(created.statusCode()).as(created.body()).isEqualTo(200);
  }

  @AfterAll
  static void stop() throws Exception {
    cluster.http.send(HttpRequest.newBuilder(URI.create(cluster.base() + "/v1/knowledge_bases/" + KB)).DELETE().build(),
        HttpResponse.BodyHandlers.ofString());
    cluster.close();
  }

  static HttpResponse<String> upload(String fileName, byte[] content) throws Exception {
    String boundary = "----zhiku" + UUID.randomUUID();
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.write(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + fileName
        + "\"\r\nContent-Type: application/octet-stream\r\n\r\n").getBytes(StandardCharsets.UTF_8));
    body.write(content);
    body.write(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
    HttpRequest req = HttpRequest.newBuilder(URI.create(cluster.base() + "/v1/knowledge_bases/" + KB + "/documents"))
        .header("content-type", "multipart/form-data; boundary=" + boundary)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build();
    return cluster.http.send(req, HttpResponse.BodyHandlers.ofString());
  }

  static long stored(String table) throws Exception {
    try (Connection c = DriverManager.getConnection(KnowledgeBaseApiTest.databaseUrl());
        PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM " + table
            + " t JOIN knowledge_bases k ON k.id = t.kb_id WHERE k.name = ?")) {
      ps.setString(1, KB);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  @Test
  void aDocxZipBombIsA413NamingTheLimit() throws Exception {
    ByteArrayOutputStream zipped = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(zipped)) {
      zip.setLevel(Deflater.BEST_COMPRESSION);
      zip.putNextEntry(new ZipEntry("word/document.xml"));
      zip.write("<?xml version=\"1.0\"?><w:document xmlns:w=\"urn:w\"><w:body>".getBytes(StandardCharsets.UTF_8));
      byte[] spaces = new byte[1 << 20];
      Arrays.fill(spaces, (byte) ' ');
      for (int i = 0; i < 300; i++) {
        zip.write(spaces);
      }
      zip.write("</w:body></w:document>".getBytes(StandardCharsets.UTF_8));
      zip.closeEntry();
    }
    long start = System.nanoTime();
    HttpResponse<String> r = upload("bomb.docx", zipped.toByteArray());
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertError(r, 413, "file", "document_too_large");
    assertThat(new JsonObject(r.body()).getJsonObject("error").getString("message"))
        .contains("bomb.docx", "256 MiB", "decompressed size");
    assertThat(ms).as("refused in %d ms", ms).isLessThan(15_000);
    assertThat(cluster.get("/v1/knowledge_bases/" + KB + "/documents").body()).doesNotContain("bomb.docx");
  }

  @Test
  void anUploadWhoseClientDisconnectsStopsAndStoresNothing() throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 4000; i++) {
      text.append("第").append(i).append("段：断开连接的上传不应留下任何块。Paragraph ").append(i).append(" of a long upload.\n\n");
    }
    byte[] body = new JsonObject().put("name", "gone.txt").put("text", text.toString()).encode().getBytes(StandardCharsets.UTF_8);
    int before = embedCalls.get();
    try (Socket s = new Socket("127.0.0.1", cluster.apiPort)) {
      OutputStream out = s.getOutputStream();
      out.write(("POST /v1/knowledge_bases/" + KB + "/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
      out.write(body);
      out.flush();
      long deadline = System.currentTimeMillis() + 20_000;
      while (embedCalls.get() == before && System.currentTimeMillis() < deadline) {
        Thread.sleep(20);
      }
      assertThat(embedCalls.get()).as("embedding started").isGreaterThan(before);
    } // the client goes away while its document is being embedded
    Thread.sleep(1_000); // the batch in flight finishes; the ingestion sees the cancellation before the next
    int afterCancel = embedCalls.get();
    Thread.sleep(1_500);
    assertThat(embedCalls.get()).as("no batch after the one in flight").isEqualTo(afterCancel);
    int chunks = text.length() / 400;
    assertThat(afterCancel - before).as("batches embedded of about %d", chunks / 32).isLessThan(chunks / 32);
    assertThat(stored("documents")).isZero();
    assertThat(stored("chunks")).isZero();
    assertThat(stored("chunk_terms")).isZero();

    // the upload pool's thread is free again: a small upload goes through at once
    HttpResponse<String> small = cluster.post("/v1/knowledge_bases/" + KB + "/documents",
        new JsonObject().put("name", "small.txt").put("text", "断开之后的小文档。").encode());
    assertThat(small.statusCode()).as(small.body()).isEqualTo(200);
    assertThat(stored("documents")).isEqualTo(1);
  }
}
