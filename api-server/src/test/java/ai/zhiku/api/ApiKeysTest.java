package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.worker.HostedModel;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Scoped keys from --api-keys-file (hashed), an admin key from --api-keys, and /metrics behind a key,
 * with the scripted chat engine. The knowledge-base database is one that is down: scopes are checked
 * before the database is reached, so a refused request is 403 and an allowed one gets as far as the
 * database (503), never 401 or 403.
 */
class ApiKeysTest {
  static final String A = "keys_a_" + UUID.randomUUID().toString().substring(0, 8);
  static final String B = "keys_b_" + UUID.randomUUID().toString().substring(0, 8);
  static final String ADMIN = "sk-admin", CHAT = "sk-chat", READ_A = "sk-read-a", WRITE_A = "sk-write-a", METRICS = "sk-metrics";
  static TestCluster cluster;

  static String line(String key, String scopes) {
    return "sha256:" + HexFormat.of().formatHex(ApiKeys.sha256(key)) + "  " + scopes + "\n";
  }

  @BeforeAll
  static void start() throws Exception {
    Path file = Files.createTempFile("zhiku-keys", ".txt");
    file.toFile().deleteOnExit();
    Files.writeString(file, "# scoped keys\n\n" + line(CHAT, "chat") + line(READ_A, "kb:read:" + A) + line(WRITE_A, "chat, kb:write:" + A)
        + line(METRICS, "metrics"));
    cluster = new TestCluster("shortest_queue", 5000);
    cluster.addWorker(new HostedModel.Chat(List.of("tiny-chat"), new ScriptedChatEngine("keys", 8192, 0)), 8, 8);
    String db = "jdbc:postgresql://127.0.0.1:1/down";
    ApiServerConfig config = new ApiServerConfig("127.0.0.1", 0, cluster.controllerAddress(), List.of(ADMIN), List.of(), 1 << 20,
        8 << 20, 200, db, 2, "bge-small-zh-v1.5").withKeys(List.of(ADMIN), file.toString(), false);
    cluster.api = new ApiServer(cluster.vertx, config, ai.zhiku.api.kb.KnowledgeBaseRoutes.create(cluster.vertx, config));
    cluster.apiPort = TestCluster.await(cluster.api.start());
  }

  @AfterAll
  static void stop() throws Exception {
    cluster.close();
  }

  static HttpResponse<String> send(String key, String method, String path, String json) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(cluster.base() + path)).header("content-type", "application/json")
        .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
    if (key != null) {
      b.header("authorization", "Bearer " + key);
    }
    return cluster.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static String search() {
    return new JsonObject().put("query", "嵌入").encode();
  }

  static String text(String name) {
    return new JsonObject().put("name", name).put("text", "检索增强生成先检索再回答。").encode();
  }

  /** Allowed: past authentication and scopes, as far as the (down) database. */
  static void assertAllowed(HttpResponse<String> r) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
  }

  static void assertForbidden(HttpResponse<String> r, String scope) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(403);
    JsonObject error = new JsonObject(r.body()).getJsonObject("error");
    assertThat(error.getString("message")).contains("`" + scope + "`");
    assertThat(error.getString("type")).isEqualTo("invalid_request_error");
    assertThat(error.getString("code")).isEqualTo("missing_scope");
    assertThat(error.containsKey("param")).isTrue();
  }

  @Test
  void aChatKeyChatsButCannotTouchAKnowledgeBase() throws Exception {
    assertThat(send(CHAT, "GET", "/v1/models", null).statusCode()).isEqualTo(200);
    assertForbidden(send(CHAT, "GET", "/v1/knowledge_bases/" + A, null), "kb:read:" + A);
    assertForbidden(send(CHAT, "POST", "/v1/knowledge_bases/" + B + "/search", search()), "kb:read:" + B);
    assertForbidden(send(CHAT, "POST", "/v1/knowledge_bases", new JsonObject().put("name", "keys_new").encode()), "kb:write:keys_new");
    assertForbidden(send(CHAT, "POST", "/v1/chat/completions", new JsonObject().put("model", "tiny-chat")
        .put("knowledge_base", B).put("messages", new io.vertx.core.json.JsonArray().add(new JsonObject()
            .put("role", "user").put("content", "嵌入是什么"))).encode()), "kb:read:" + B);
  }

  @Test
  void aReadKeySearchesItsKnowledgeBaseOnly() throws Exception {
    assertAllowed(send(READ_A, "POST", "/v1/knowledge_bases/" + A + "/search", search()));
    assertAllowed(send(READ_A, "GET", "/v1/knowledge_bases/" + A + "/documents", null));
    assertAllowed(send(READ_A, "GET", "/v1/knowledge_bases/" + A, null));
    assertForbidden(send(READ_A, "POST", "/v1/knowledge_bases/" + B + "/search", search()), "kb:read:" + B);
    assertForbidden(send(READ_A, "POST", "/v1/knowledge_bases/" + A + "/documents", text("r.md")), "kb:write:" + A);
    assertForbidden(send(READ_A, "DELETE", "/v1/knowledge_bases/" + A, null), "kb:write:" + A);
    assertForbidden(send(READ_A, "GET", "/v1/models", null), "chat");
  }

  @Test
  void aWriteKeyUploadsToItsKnowledgeBaseAndChatsWithIt() throws Exception {
    assertAllowed(send(WRITE_A, "POST", "/v1/knowledge_bases/" + A + "/documents", text("w.md")));
    assertAllowed(send(WRITE_A, "POST", "/v1/knowledge_bases/" + A + "/search", search()));
    // creating reaches the embedding-model lookup (no embedding worker here: 404), past the scopes
    HttpResponse<String> created = send(WRITE_A, "POST", "/v1/knowledge_bases", new JsonObject().put("name", A).encode());
    assertThat(created.statusCode()).as(created.body()).isNotIn(401, 403);
    assertForbidden(send(WRITE_A, "POST", "/v1/knowledge_bases/" + B + "/documents", text("w.md")), "kb:write:" + B);
    HttpResponse<String> chat = send(WRITE_A, "POST", "/v1/chat/completions", new JsonObject().put("model", "tiny-chat")
        .put("knowledge_base", A).put("max_tokens", 4).put("messages", new io.vertx.core.json.JsonArray().add(new JsonObject()
            .put("role", "user").put("content", "检索是什么"))).encode());
    assertAllowed(chat);
  }

  @Test
  void anAdminKeyDoesEverythingAndAnUnknownKeyIs401() throws Exception {
    assertAllowed(send(ADMIN, "POST", "/v1/knowledge_bases/" + B + "/search", search()));
    assertAllowed(send(ADMIN, "POST", "/v1/knowledge_bases/" + A + "/documents", text("admin.md")));
    assertAllowed(send(ADMIN, "DELETE", "/v1/knowledge_bases/" + B, null));
    assertAllowed(send(ADMIN, "GET", "/v1/knowledge_bases", null));
    assertThat(send(ADMIN, "GET", "/v1/models", null).statusCode()).isEqualTo(200);
    assertThat(send(ADMIN, "GET", "/metrics", null).statusCode()).isEqualTo(200);
    assertThat(send("sk-unknown", "GET", "/v1/models", null).statusCode()).isEqualTo(401);
    assertThat(send(null, "GET", "/v1/knowledge_bases", null).statusCode()).isEqualTo(401);
  }

  @Test
  void metricsNeedAMetricsKey() throws Exception {
    HttpResponse<String> r = send(METRICS, "GET", "/metrics", null);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("# TYPE");
    assertForbidden(send(CHAT, "GET", "/metrics", null), "metrics");
    assertThat(send(null, "GET", "/metrics", null).statusCode()).isEqualTo(401);
    assertForbidden(send(METRICS, "GET", "/v1/models", null), "chat");
    assertThat(send(null, "GET", "/health", null).statusCode()).isEqualTo(200);
  }

  static ApiServerConfig withFile(String content) throws Exception {
    Path file = Files.createTempFile("zhiku-keys", ".txt");
    file.toFile().deleteOnExit();
    Files.writeString(file, content);
    return new ApiServerConfig("127.0.0.1", 0, "http://127.0.0.1:1", List.of(), List.of(), 1 << 20, 8 << 20, 200, null, 2, "m")
        .withKeys(List.of(), file.toString(), false);
  }

  @Test
  void theFileIsParsedHashedAndAMalformedLineIsRefusedWithItsNumber() throws Exception {
    ApiKeys keys = ApiKeys.of(withFile("# c\n" + line("k1", "chat,kb:read:x") + "\n" + line("k2", "kb:write:*")));
    assertThat(keys.size()).isEqualTo(2);
    assertThat(keys.lookup("k1").scopes()).containsExactly(Scope.CHAT, Scope.kbRead("x"));
    assertThat(keys.lookup("k2").allows(Scope.kbRead("anything"))).isTrue();
    assertThat(keys.lookup("k2").allows(Scope.CHAT)).isFalse();
    assertThat(keys.lookup("sha256:" + HexFormat.of().formatHex(ApiKeys.sha256("k1")))).isNull();
    assertThat(keys.lookup("k3")).isNull();

    assertThatThrownBy(() -> ApiKeys.of(withFile(line("k1", "chat") + "# c\nk2 chat\n")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("line 3 of --api-keys-file").hasMessageContaining("sha256:");
    assertThatThrownBy(() -> ApiKeys.of(withFile(line("k1", "chat") + line("k2", "chat,superuser"))))
        .hasMessageStartingWith("line 2 of").hasMessageContaining("`superuser`");
    assertThatThrownBy(() -> ApiKeys.of(withFile(line("k1", ""))))
        .hasMessageStartingWith("line 1 of").hasMessageContaining("no scopes");
  }
}
