package ai.zhiku.api.kb;

import ai.zhiku.api.Access;
import ai.zhiku.api.ApiMetrics;
import ai.zhiku.api.ApiServerConfig;
import ai.zhiku.api.KbRoutes;
import ai.zhiku.api.KnowledgeAugmenter;
import ai.zhiku.api.OpenAiError;
import ai.zhiku.api.Scope;
import ai.zhiku.api.Upstream;
import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.kb.AddDocumentResult;
import ai.zhiku.kb.AugmentedPrompt;
import ai.zhiku.kb.CreateKnowledgeBase;
import ai.zhiku.kb.DocumentInfo;
import ai.zhiku.kb.Embedder;
import ai.zhiku.kb.KbConfig;
import ai.zhiku.kb.KnowledgeBaseInfo;
import ai.zhiku.kb.KnowledgeBaseService;
import ai.zhiku.kb.SearchHit;
import ai.zhiku.kb.SearchMode;
import ai.zhiku.kb.ingest.Cancellation;
import ai.zhiku.protocol.ModelCard;
import ai.zhiku.protocol.ModelKind;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.FileUpload;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The knowledge-base REST API (/v1/knowledge_bases...) and the chat augmenter, over the kb library.
 * JDBC and embedding calls run on named worker pools, never on an event loop; handlers only parse and write.
 * Document uploads (read, parse, chunk, embed, store) have a pool of their own, at most one thread per core,
 * so that uploads neither take more CPUs than there are nor hold up searches and chat retrieval; an upload
 * whose client disconnects is cancelled and stores nothing.
 */
public final class KnowledgeBaseRoutes implements KbRoutes {

  private final Vertx vertx;
  private final ApiServerConfig config;
  private final WorkerExecutor pool;
  private final WorkerExecutor ingestPool;
  private final Map<String, Embedder> embedders = new ConcurrentHashMap<>();
  private volatile KnowledgeBaseService service;
  private ApiMetrics metrics;
  private Upstream upstream;

  private KnowledgeBaseRoutes(Vertx vertx, ApiServerConfig config) {
    this.vertx = vertx;
    this.config = config;
    this.pool = vertx.createSharedWorkerExecutor("zhiku-kb", Math.max(2, config.kbPoolSize()));
    this.ingestPool = vertx.createSharedWorkerExecutor("zhiku-kb-ingest", ingestThreads(config.kbPoolSize()));
  }

  public static KnowledgeBaseRoutes create(Vertx vertx, ApiServerConfig config) {
    return new KnowledgeBaseRoutes(vertx, config);
  }

  /** The service, created on first use so that a database that is down at start-up only makes KB calls fail (503). */
  private KnowledgeBaseService service() {
    KnowledgeBaseService s = service;
    if (s == null) {
      synchronized (this) {
        if (service == null) {
          service = new KnowledgeBaseService(new KbConfig(config.kbDatabaseUrl(), config.kbPoolSize(), config.defaultEmbeddingModel()),
              this::embedder);
        }
        s = service;
      }
    }
    return s;
  }

  private Embedder embedder(String model) {
    return embedders.computeIfAbsent(model, m -> {
      ModelCard card = GrpcEmbedder.await(upstream.model(m));
      if (card.getKind() != ModelKind.MODEL_KIND_EMBEDDING) {
        throw ZhikuException.invalid("embedding_model", "The model `" + m + "` is a chat model, not an embedding model.");
      }
      return new GrpcEmbedder(upstream, m, card.getEmbeddingDimension());
    });
  }

  private <T> Future<T> blocking(Callable<T> work) {
    return pool.executeBlocking(work, false);
  }

  /** Threads of the upload pool: no more than the cores (parsing is CPU work) nor the database connections. */
  static int ingestThreads(int kbPoolSize) {
    return Math.max(1, Math.min(kbPoolSize, Runtime.getRuntime().availableProcessors()));
  }

  /**
   * Runs an upload on the upload pool with a cancellation that the client's disconnect triggers: the
   * ingestion stops at its next check (while parsing, between embedding batches, before its commit), stores
   * nothing, and frees the thread; one still queued stops before it starts.
   */
  private Future<JsonObject> ingest(RoutingContext ctx, java.util.function.Function<Cancellation, JsonObject> work) {
    Cancellation cancel = new Cancellation();
    ctx.response().closeHandler(v -> {
      if (!ctx.response().ended()) {
        cancel.cancel("the client disconnected before the document was stored");
      }
    });
    if (ctx.response().closed()) {
      cancel.cancel("the client disconnected before the upload started");
    }
    return ingestPool.executeBlocking(() -> work.apply(cancel), false);
  }

  @Override
  public void mount(Router router, long maxUploadBytes, ApiMetrics metrics, Upstream upstream) {
    this.metrics = metrics;
    this.upstream = upstream;
    BodyHandler body = BodyHandler.create(false).setBodyLimit(maxUploadBytes).setHandleFileUploads(true)
        .setDeleteUploadedFilesOnEnd(true).setUploadsDirectory(System.getProperty("java.io.tmpdir") + "/zhiku-uploads");
    // scopes first, so that a key without them is refused before an upload is read
    router.get("/v1/knowledge_bases/:name").handler(needs(Scope::kbRead));
    router.delete("/v1/knowledge_bases/:name").handler(needs(Scope::kbWrite));
    router.post("/v1/knowledge_bases/:name/documents").handler(needs(Scope::kbWrite));
    router.get("/v1/knowledge_bases/:name/documents").handler(needs(Scope::kbRead));
    router.delete("/v1/knowledge_bases/:name/documents/:id").handler(needs(Scope::kbWrite));
    router.post("/v1/knowledge_bases/:name/search").handler(needs(Scope::kbRead));
    router.route("/v1/knowledge_bases*").handler(body);
    router.post("/v1/knowledge_bases").handler(this::create);
    router.get("/v1/knowledge_bases").handler(ctx -> respond(ctx, blocking(() -> {
      Access access = Access.of(ctx);
      JsonArray data = new JsonArray();
      service().list().stream().filter(kb -> access.allows(Scope.kbRead(kb.name()))).forEach(kb -> data.add(kbJson(kb)));
      return new JsonObject().put("object", "list").put("data", data);
    })));
    router.get("/v1/knowledge_bases/:name").handler(ctx -> respond(ctx, blocking(() -> kbJson(service().get(ctx.pathParam("name"))))));
    router.delete("/v1/knowledge_bases/:name").handler(ctx -> {
      String name = ctx.pathParam("name");
      respond(ctx, blocking(() -> {
        service().delete(name);
        return new JsonObject().put("id", name).put("object", "knowledge_base.deleted").put("deleted", true);
      }));
    });
    router.post("/v1/knowledge_bases/:name/documents").handler(this::upload);
    router.get("/v1/knowledge_bases/:name/documents").handler(ctx -> respond(ctx, blocking(() -> {
      JsonArray data = new JsonArray();
      service().listDocuments(ctx.pathParam("name")).forEach(d -> data.add(docJson(d)));
      return new JsonObject().put("object", "list").put("data", data);
    })));
    router.delete("/v1/knowledge_bases/:name/documents/:id").handler(ctx -> {
      String id = ctx.pathParam("id");
      respond(ctx, blocking(() -> {
        service().deleteDocument(ctx.pathParam("name"), id);
        return new JsonObject().put("id", id).put("object", "knowledge_base.document.deleted").put("deleted", true);
      }));
    });
    router.post("/v1/knowledge_bases/:name/search").handler(this::search);
  }

  /** A handler passing on only when the key has {@code scope} of the knowledge base in the path. */
  private static io.vertx.core.Handler<RoutingContext> needs(java.util.function.Function<String, Scope> scope) {
    return ctx -> {
      if (Access.check(ctx, scope.apply(ctx.pathParam("name")))) {
        ctx.next();
      }
    };
  }

  private void create(RoutingContext ctx) {
    JsonObject body;
    try {
      body = json(ctx);
      CreateKnowledgeBase req = new CreateKnowledgeBase(str(body, "name", true), str(body, "embedding_model", false),
          integer(body, "chunk_size"), integer(body, "chunk_overlap"), str(body, "prompt_template", false),
          str(body, "description", false));
      Access.of(ctx).require(Scope.kbWrite(req.name()));
      respond(ctx, blocking(() -> kbJson(service().create(req))));
    } catch (ZhikuException e) {
      OpenAiError.send(ctx.response(), e);
    }
  }

  private void upload(RoutingContext ctx) {
    String kb = ctx.pathParam("name");
    List<FileUpload> files = ctx.fileUploads();
    if (!files.isEmpty()) {
      FileUpload file = files.stream().filter(f -> f.name().equals("file")).findFirst().orElse(files.getFirst());
      if (file.size() == 0) {
        OpenAiError.send(ctx.response(), ZhikuException.invalid("file", "the uploaded file is empty"));
        return;
      }
      respond(ctx, ingest(ctx, cancel -> {
        cancel.check();
        byte[] bytes;
        try {
          bytes = Files.readAllBytes(Path.of(file.uploadedFileName()));
        } catch (java.io.IOException e) {
          throw ZhikuException.invalid("file", "the upload could not be read: " + e.getMessage());
        }
        return resultJson(service().addDocument(kb, file.fileName(), bytes, file.contentType(), cancel));
      }));
      return;
    }
    try {
      JsonObject body = json(ctx);
      String name = str(body, "name", true);
      String text = str(body, "text", true);
      respond(ctx, ingest(ctx, cancel -> resultJson(service().addText(kb, name, text, cancel))));
    } catch (ZhikuException e) {
      OpenAiError.send(ctx.response(), e);
    }
  }

  private void search(RoutingContext ctx) {
    long start = System.nanoTime();
    try {
      JsonObject body = json(ctx);
      String query = str(body, "query", true);
      Integer topK = ai.zhiku.api.Json.integer(body, "top_k", 1, KnowledgeBaseService.MAX_TOP_K);
      Double threshold = number(body, "score_threshold");
      SearchMode mode = SearchMode.parse(str(body, "mode", false));
      respond(ctx, blocking(() -> {
        List<SearchHit> hits = service().search(ctx.pathParam("name"), query, topK, threshold, mode);
        if (metrics != null) {
          metrics.kbSearch(mode.wireName(), System.nanoTime() - start, hits.size());
        }
        return new JsonObject().put("object", "list").put("data", hitsJson(hits));
      }));
    } catch (ZhikuException e) {
      OpenAiError.send(ctx.response(), e);
    }
  }

  @Override
  public KnowledgeAugmenter augmenter() {
    return (kb, question, topK, threshold) -> {
      long start = System.nanoTime();
      return blocking(() -> {
        AugmentedPrompt p = service().augment(kb, question, topK, threshold == null ? null : threshold.doubleValue());
        if (metrics != null) {
          metrics.kbSearch("hybrid", System.nanoTime() - start, p.sources().size());
        }
        return new KnowledgeAugmenter.Augmented(p.prompt(), hitsJson(p.sources()));
      });
    };
  }

  @Override
  public void close() {
    pool.close();
    ingestPool.close();
    KnowledgeBaseService s = service;
    if (s != null) {
      s.close();
    }
  }

  // ------------------------------------------------------------------ JSON

  private static void respond(RoutingContext ctx, Future<JsonObject> result) {
    result.onSuccess(json -> ctx.response().putHeader("content-type", "application/json").end(json.encode()))
        .onFailure(err -> OpenAiError.send(ctx.response(), unwrap(err)));
  }

  private static Throwable unwrap(Throwable err) {
    if (err instanceof ZhikuException) {
      return err;
    }
    if (err instanceof java.io.IOException io) {
      return ZhikuException.invalid("file", "the upload could not be read: " + io.getMessage());
    }
    return err;
  }

  private static JsonObject json(RoutingContext ctx) {
    if (ctx.body() == null || ctx.body().length() == 0) {
      throw ZhikuException.invalid(null, "the request body is empty; send JSON (or a multipart upload with a 'file' field)");
    }
    try {
      return ai.zhiku.api.ApiServer.jsonBody(ctx);
    } catch (ZhikuException e) {
      // fall through to the upload-aware message
    }
    throw ZhikuException.invalid(null, "the request body must be a JSON object");
  }

  private static String str(JsonObject o, String field, boolean required) {
    return ai.zhiku.api.Json.string(o, field, required);
  }

  /** A non-negative integer; the service checks the field's own range (and names it) after this. */
  private static Integer integer(JsonObject o, String field) {
    return ai.zhiku.api.Json.integer(o, field, 0, Integer.MAX_VALUE);
  }

  private static Double number(JsonObject o, String field) {
    Object v = o.getValue(field);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Number n)) {
      throw ZhikuException.invalid(field, "'" + field + "' must be a number");
    }
    return n.doubleValue();
  }

  private static JsonObject kbJson(KnowledgeBaseInfo kb) {
    return new JsonObject().put("id", kb.name()).put("object", "knowledge_base").put("name", kb.name())
        .put("embedding_model", kb.embeddingModel()).put("dimension", kb.dimension()).put("chunk_size", kb.chunkSize())
        .put("chunk_overlap", kb.chunkOverlap()).put("prompt_template", kb.promptTemplate())
        .put("description", kb.description())
        .put("created_at", kb.createdAt() == null ? null : kb.createdAt().getEpochSecond())
        .put("document_count", kb.documentCount()).put("chunk_count", kb.chunkCount());
  }

  private static JsonObject docJson(DocumentInfo d) {
    return new JsonObject().put("id", d.id()).put("object", "knowledge_base.document").put("name", d.name())
        .put("content_hash", d.contentHash()).put("content_type", d.contentType()).put("bytes", d.sizeBytes())
        .put("chunk_count", d.chunkCount())
        .put("created_at", d.createdAt() == null ? null : d.createdAt().getEpochSecond())
        .put("updated_at", d.updatedAt() == null ? null : d.updatedAt().getEpochSecond());
  }

  private static JsonObject resultJson(AddDocumentResult r) {
    return docJson(r.document()).put("status", r.status().wireName());
  }

  private static JsonArray hitsJson(List<SearchHit> hits) {
    JsonArray data = new JsonArray();
    for (SearchHit h : hits) {
      data.add(new JsonObject().put("text", h.text()).put("score", h.score()).put("document", h.document())
          .put("chunk_index", h.chunkIndex()));
    }
    return data;
  }

  static ZhikuException unavailable() {
    return new ZhikuException(ErrorKind.UNAVAILABLE, "the knowledge-base database is unavailable", null, "service_unavailable");
  }
}
