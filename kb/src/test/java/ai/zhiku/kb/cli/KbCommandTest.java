package ai.zhiku.kb.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.common.ZhikuException;
import ai.zhiku.kb.AddDocumentResult;
import ai.zhiku.kb.CharNgramHashingEmbedder;
import ai.zhiku.kb.CreateKnowledgeBase;
import ai.zhiku.kb.KnowledgeBaseService;
import ai.zhiku.kb.SearchHit;
import ai.zhiku.kb.SearchMode;
import ai.zhiku.kb.TestDatabase;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The CLI against a minimal stand-in for the api-server's knowledge-base routes (JDK HttpServer over the real
 * KnowledgeBaseService and database), so uploads, multipart encoding, the API key and the eval arithmetic are
 * exercised end to end.
 */
class KbCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private TestDatabase db;
  private KnowledgeBaseService service;
  private HttpServer server;
  private String url;

  @BeforeEach
  void start() throws IOException {
    db = TestDatabase.freshSchema("kbcli");
    CharNgramHashingEmbedder embedder = new CharNgramHashingEmbedder(128);
    service = new KnowledgeBaseService(db.config(2), m -> embedder);
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/v1/knowledge_bases", this::handle);
    server.start();
    url = "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @AfterEach
  void stop() {
    server.stop(0);
    service.close();
    db.close();
  }

  /** KbRestStub: just enough of the REST routes for the CLI. */
  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      if (!"Bearer sk-test".equals(ex.getRequestHeaders().getFirst("Authorization"))) {
        send(ex, 401, JSON.createObjectNode().set("error", JSON.createObjectNode().put("message", "bad key")));
        return;
      }
      String[] parts = ex.getRequestURI().getPath().split("/");
      byte[] body = ex.getRequestBody().readAllBytes();
      try {
        if (parts.length == 3) {
          service.create(CreateKnowledgeBase.named(JSON.readTree(body).get("name").asText()));
          send(ex, 200, JSON.createObjectNode().put("ok", true));
        } else if (parts[4].equals("documents")) {
          String ct = ex.getRequestHeaders().getFirst("Content-Type");
          String boundary = ct.substring(ct.indexOf("boundary=") + 9);
          String raw = new String(body, StandardCharsets.ISO_8859_1);
          int headerEnd = raw.indexOf("\r\n\r\n");
          Matcher m = Pattern.compile("filename=\"([^\"]*)\"").matcher(raw.substring(0, headerEnd));
          assertThat(m.find()).isTrue();
          assertThat(raw.substring(0, headerEnd)).contains("name=\"file\"");
          String fileName = new String(m.group(1).getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
          int end = raw.indexOf("\r\n--" + boundary + "--", headerEnd);
          byte[] content = Arrays.copyOfRange(body, headerEnd + 4, end);
          AddDocumentResult r = service.addDocument(parts[3], fileName, content, null);
          send(ex, 200, JSON.createObjectNode().put("id", r.document().id()).put("status", r.status().wireName()));
        } else {
          JsonNode q = JSON.readTree(body);
          ArrayNode data = JSON.createArrayNode();
          for (SearchHit h : service.search(parts[3], q.get("query").asText(), q.get("top_k").asInt(), null,
              SearchMode.parse(q.get("mode").asText()))) {
            data.addObject().put("text", h.text()).put("score", h.score()).put("document", h.document())
                .put("chunk_index", h.chunkIndex());
          }
          ObjectNode list = JSON.createObjectNode().put("object", "list");
          list.set("data", data);
          send(ex, 200, list);
        }
      } catch (ZhikuException e) {
        send(ex, e.kind().httpStatus(), JSON.createObjectNode().set("error",
            JSON.createObjectNode().put("message", e.getMessage()).put("code", e.code())));
      }
    }
  }

  private static void send(HttpExchange ex, int status, JsonNode body) throws IOException {
    byte[] bytes = JSON.writeValueAsBytes(body);
    ex.getResponseHeaders().add("Content-Type", "application/json");
    ex.sendResponseHeaders(status, bytes.length);
    ex.getResponseBody().write(bytes);
  }

  private record Run(int code, String out, String err) {}

  private Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = new KbCommand(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8)).run(args);
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void ingestsADirectoryThenEvaluates(@org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
    Path docs = tmp.resolve("docs");
    Files.createDirectories(docs.resolve("子目录"));
    Files.copy(TestDatabase.seedsDir().resolve("002_ea7a79e2575d756d.txt"), docs.resolve("子目录/向量.txt"));
    Files.writeString(docs.resolve("a.md"), "# 端口\n\nattu 映射到 8001 端口。");
    Files.writeString(docs.resolve("skip.bin"), "not a document");

    Run ingest = run("ingest", docs.toString(), "--kb", "cli", "--create", "--server", url, "--api-key", "sk-test");
    assertThat(ingest.code()).as(ingest.out() + ingest.err()).isZero();
    assertThat(ingest.out()).contains("2 files", "created=2");
    assertThat(ingest.err()).contains("[##############################] 2/2");
    assertThat(service.listDocuments("cli")).extracting(d -> d.name()).containsExactly("a.md", "子目录/向量.txt");

    Run again = run("ingest", docs.toString(), "--kb", "cli", "--server", url, "--api-key", "sk-test");
    assertThat(again.out()).contains("unchanged=2");

    Path qa = tmp.resolve("qa.jsonl");
    Files.writeString(qa, """
        {"question": "attu 映射到哪个端口？", "answer": "8001"}
        {"question": "安装 faiss-cpu 时的版本号？", "answer": "1.7.3"}
        {"question": "完全不存在的问题", "answer": "不存在的答案XYZ"}
        """);
    Run eval = run("eval", qa.toString(), "--kb", "cli", "-k", "3", "--server", url, "--api-key", "sk-test", "-v");
    assertThat(eval.code()).as(eval.err()).isZero();
    assertThat(eval.out()).contains("questions 3, mode hybrid: recall@3 = 0.667")
        .contains("miss: 完全不存在的问题 -> 不存在的答案XYZ");
  }

  @Test
  void reportsServerErrorsAndUsage(@org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
    Files.writeString(tmp.resolve("a.txt"), "内容");
    Run noKb = run("ingest", tmp.toString(), "--kb", "missing", "--server", url, "--api-key", "sk-test");
    assertThat(noKb.code()).isEqualTo(1);
    assertThat(noKb.out()).contains("HTTP 404", "does not exist");
    Run badKey = run("ingest", tmp.toString(), "--kb", "missing", "--server", url, "--api-key", "wrong");
    assertThat(badKey.out()).contains("HTTP 401");
    assertThat(run("ingest", tmp.toString()).code()).isEqualTo(2);
    assertThat(run("frobnicate").code()).isEqualTo(2);
  }
}
