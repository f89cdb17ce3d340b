package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.embeddings.EmbeddingEngineConfig;
import ai.zhiku.embeddings.EmbeddingEngineFactory;
import ai.zhiku.worker.HostedModel;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * 10,000 malformed requests over every JSON route (wrong types, huge and negative numbers, deep
 * nesting, long and broken strings, NUL and lone surrogates, truncated or non-UTF-8 bodies, unknown
 * models and paths), from a seeded generator so a failure can be replayed: no 5xx, every error in
 * OpenAI's shape, and the server answers a normal request afterwards. The chat worker is the scripted
 * double; embeddings and knowledge bases are real (bundled model, test database).
 */
class RequestFuzzTest {
  static TestCluster cluster;
  static final String KB = "fuzz_" + UUID.randomUUID().toString().substring(0, 8);
  static final int REQUESTS = 10_000;
  static Set<String> kbsBefore;

  @BeforeAll
  static void start() throws Exception {
    cluster = new TestCluster("shortest_queue", 5000);
    cluster.addWorker(new HostedModel.Chat(List.of("tiny-chat"), new ScriptedChatEngine("fz", 4096, 0)), 8, 64);
    cluster.addWorker(new HostedModel.Embedding(List.of(EmbeddingEngineFactory.DEFAULT_MODEL_NAME),
        EmbeddingEngineFactory.open(EmbeddingEngineConfig.defaults())), 8, 64);
    cluster.startApi(List.of(), 1 << 20, KnowledgeBaseApiTest.databaseUrl());
    kbsBefore = kbNames();
    HttpResponse<String> r = cluster.post("/v1/knowledge_bases", new JsonObject().put("name", KB).encode());
    assertThat(r.statusCode()).as(r.body()).isIn(200, 201);
  }

  @AfterAll
  static void stop() throws Exception {
    if (cluster != null) {
      for (String name : kbNames()) {
        if (!kbsBefore.contains(name)) delete("/v1/knowledge_bases/" + URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20"));
      }
      cluster.close();
    }
  }

  static Set<String> kbNames() throws Exception {
    HttpResponse<String> r = cluster.http.send(HttpRequest.newBuilder(URI.create(cluster.base() + "/v1/knowledge_bases")).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    Set<String> names = new HashSet<>();
    for (Object o : new JsonObject(r.body()).getJsonArray("data")) names.add(((JsonObject) o).getString("name"));
    return names;
  }

  static HttpResponse<String> delete(String path) throws Exception {
    return cluster.http.send(HttpRequest.newBuilder(URI.create(cluster.base() + path)).DELETE().timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** A valid body per route, the starting point of every mutation. */
  static Map<String, JsonObject> seeds() {
    Map<String, JsonObject> m = new TreeMap<>();
    JsonArray messages = new JsonArray().add(new JsonObject().put("role", "user").put("content", "你好"));
    m.put("/v1/chat/completions", new JsonObject().put("model", "tiny-chat").put("messages", messages).put("max_tokens", 4)
        .put("temperature", 0.5).put("n", 1).put("stop", new JsonArray().add("。")).put("stream", false).put("seed", 1)
        .put("tools", new JsonArray().add(new JsonObject().put("type", "function").put("function", new JsonObject().put("name", "f")
            .put("parameters", new JsonObject().put("type", "object")))))
        .put("response_format", new JsonObject().put("type", "text")).put("logprobs", false).put("logit_bias", new JsonObject()));
    m.put("/v1/completions", new JsonObject().put("model", "tiny-chat").put("prompt", "你好").put("max_tokens", 4).put("echo", false)
        .put("top_p", 0.9).put("logprobs", 1));
    m.put("/v1/embeddings", new JsonObject().put("model", EmbeddingEngineFactory.DEFAULT_MODEL_NAME).put("input", new JsonArray().add("向量"))
        .put("encoding_format", "float"));
    m.put("/api/v1/token_check", new JsonObject().put("prompts", new JsonArray().add(new JsonObject().put("model", "tiny-chat")
        .put("prompt", "你好").put("max_tokens", 8))));
    m.put("/tokenize", new JsonObject().put("model", "tiny-chat").put("prompt", "你好"));
    m.put("/detokenize", new JsonObject().put("model", "tiny-chat").put("tokens", new JsonArray().add(1).add(2)));
    m.put("/v1/knowledge_bases", new JsonObject().put("name", "fz").put("chunk_size", 200).put("chunk_overlap", 20));
    m.put("/v1/knowledge_bases/" + KB + "/search", new JsonObject().put("query", "问题").put("top_k", 3).put("mode", "hybrid")
        .put("score_threshold", 0.1));
    m.put("/v1/knowledge_bases/" + KB + "/documents", new JsonObject().put("name", "a.txt").put("text", "短文。"));
    return m;
  }

  /** A value of a random kind, often one no route accepts where it lands. */
  static Object junk(Random r) {
    return switch (r.nextInt(20)) {
      case 0 -> null;
      case 1 -> r.nextBoolean();
      case 2 -> r.nextLong();
      case 3 -> -1 - r.nextInt(1000);
      case 4 -> new java.math.BigInteger("18446744073709551617");
      case 5 -> 1e308 * (r.nextBoolean() ? 1 : -1);
      case 6 -> r.nextDouble();
      case 7 -> "";
      case 8 -> "x".repeat(1 + r.nextInt(200_000));
      case 9 -> "a\u0000b";
      case 10 -> "\ud800 lone";
      case 11 -> new JsonArray();
      case 12 -> new JsonObject();
      case 13 -> deep(r.nextInt(900)); // Jackson writes at most 1000 levels; deeper bodies are sent as raw text below
      case 14 -> new JsonArray(new ArrayList<>(java.util.Collections.nCopies(1 + r.nextInt(5000), "e")));
      case 15 -> new JsonObject().put("role", "tool").put("content", 5);
      case 16 -> "知识库".repeat(1 + r.nextInt(50));
      case 17 -> 0;
      case 18 -> Integer.MAX_VALUE;
      default -> new JsonArray().add(junk(r)).add(junk(r));
    };
  }

  static Object deep(int depth) {
    Object v = 1;
    for (int i = 0; i < depth; i++) v = new JsonArray().add(v);
    return v;
  }

  static JsonObject mutate(JsonObject seed, Random r) {
    JsonObject b = seed.copy();
    int edits = 1 + r.nextInt(3);
    for (int e = 0; e < edits; e++) {
      List<String> keys = new ArrayList<>(b.fieldNames());
      switch (r.nextInt(6)) {
        case 0 -> { if (!keys.isEmpty()) b.remove(keys.get(r.nextInt(keys.size()))); }
        case 1 -> b.put("unknown_" + r.nextInt(5), junk(r));
        case 2 -> b.put("model", r.nextBoolean() ? "no-such-model-" + r.nextInt(9) : junk(r));
        default -> { if (!keys.isEmpty()) b.put(keys.get(r.nextInt(keys.size())), junk(r)); }
      }
      // nested edits in messages, the deepest structure a route reads
      if (b.getValue("messages") instanceof JsonArray msgs && r.nextInt(3) == 0) {
        JsonObject m = new JsonObject().put("role", r.nextBoolean() ? "user" : junk(r)).put("content", junk(r));
        if (r.nextBoolean()) m.put("tool_calls", junk(r));
        msgs.add(m);
      }
    }
    return b;
  }

  /** The body to send: usually mutated JSON, sometimes broken text or bytes. */
  static byte[] body(String route, JsonObject seed, Random r) {
    JsonObject mutated = mutate(seed, r);
    if (route.endsWith("/documents") && mutated.getValue("text") instanceof String t && t.length() > 300) {
      mutated.put("text", t.substring(0, 300)); // ingestion embeds every chunk: keep documents small
    }
    String json = mutated.encode();
    return switch (r.nextInt(12)) {
      case 0 -> json.substring(0, r.nextInt(json.length())).getBytes(StandardCharsets.UTF_8); // cut short
      case 1 -> new byte[] {(byte) 0xff, (byte) 0xfe, '{', '"', (byte) 0xc3, '"', '}'}; // not UTF-8
      case 2 -> "[".repeat(100_000).getBytes(StandardCharsets.UTF_8);
      case 3 -> ("{\"model\": \"tiny-chat\", " + "\"k\": 1, ".repeat(r.nextInt(20_000)) + "\"x\": 0}").getBytes(StandardCharsets.UTF_8);
      default -> json.getBytes(StandardCharsets.UTF_8);
    };
  }

  @Test
  void malformedRequestsGetOpenAiShapedClientErrors() throws Exception {
    Map<String, JsonObject> seeds = seeds();
    List<String> routes = new ArrayList<>(seeds.keySet());
    Map<Integer, AtomicInteger> statuses = new ConcurrentHashMap<>();
    List<String> problems = java.util.Collections.synchronizedList(new ArrayList<>());
    ExecutorService pool = Executors.newFixedThreadPool(4);
    long t0 = System.nanoTime();
    List<Future<?>> done = new ArrayList<>();
    for (int worker = 0; worker < 4; worker++) {
      int w = worker;
      done.add(pool.submit(() -> {
        Random r = new Random(20261202L + w);
        for (int i = w; i < REQUESTS; i += 4) {
          String route = routes.get(r.nextInt(routes.size()));
          if (route.endsWith("/documents") && r.nextInt(4) != 0) route = routes.get(0); // keep ingestion a small share
          HttpRequest.Builder req;
          int kind = r.nextInt(40);
          if (kind == 0) {
            String name = URLEncoder.encode("m" + junk(r), StandardCharsets.UTF_8);
            req = HttpRequest.newBuilder(URI.create(cluster.base() + "/v1/models/" + name.substring(0, Math.min(name.length(), 1 + r.nextInt(40)))
                .replaceAll("%[0-9A-F]?$", ""))).GET();
          } else if (kind == 1) {
            req = HttpRequest.newBuilder(URI.create(cluster.base() + "/v1/knowledge_bases/nope_" + r.nextInt(1000))).DELETE();
          } else if (kind == 2) {
            req = HttpRequest.newBuilder(URI.create(cluster.base() + "/v1/no/such/route")).POST(HttpRequest.BodyPublishers.ofString("{}"));
          } else {
            byte[] b = body(route, seeds.get(route), r);
            req = HttpRequest.newBuilder(URI.create(cluster.base() + route)).POST(HttpRequest.BodyPublishers.ofByteArray(b))
                .header("content-type", r.nextInt(10) == 0 ? "text/plain" : "application/json");
          }
          try {
            HttpResponse<String> resp = cluster.http.send(req.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
            statuses.computeIfAbsent(resp.statusCode(), k -> new AtomicInteger()).incrementAndGet();
            String problem = check(resp);
            if (problem != null && problems.size() < 20) problems.add(route + " #" + i + ": " + problem);
          } catch (Exception e) {
            if (problems.size() < 20) problems.add(route + " #" + i + ": " + e);
          }
        }
        return null;
      }));
    }
    for (Future<?> f : done) f.get();
    pool.shutdown();
    System.out.printf("fuzz: %d requests in %.1f s, statuses %s%n", REQUESTS, (System.nanoTime() - t0) / 1e9, new TreeMap<>(statuses));
    assertThat(problems).isEmpty();
    assertThat(statuses.keySet()).allMatch(s -> s < 500);
    // healthy afterwards
    HttpResponse<String> ok = cluster.post("/v1/chat/completions", seeds.get("/v1/chat/completions").encode());
    assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
  }

  /** Null when the answer is fine: a success, or an error in OpenAI's shape with a 4xx. */
  static String check(HttpResponse<String> resp) {
    int s = resp.statusCode();
    if (s >= 500) return s + " " + resp.body();
    if (s < 400) return null;
    try {
      JsonObject err = new JsonObject(resp.body()).getJsonObject("error");
      if (err == null || !(err.getValue("message") instanceof String m) || m.isBlank() || !(err.getValue("type") instanceof String)
          || !err.containsKey("param") || !err.containsKey("code")) {
        return s + " not in OpenAI's shape: " + resp.body();
      }
    } catch (RuntimeException e) {
      return s + " body is not JSON: " + resp.body();
    }
    return null;
  }
}
