package ai.zhiku.api;

import io.vertx.ext.web.Router;

/** The knowledge-base side of the api-server: its REST routes and the chat augmenter. */
public interface KbRoutes {

  /**
   * Mounts /v1/knowledge_bases/... (after authentication, before the default body handler). The routes
   * reach embedding workers through the api-server's own {@code upstream} (its connections and model cache).
   */
  void mount(Router router, long maxUploadBytes, ApiMetrics metrics, Upstream upstream);

  KnowledgeAugmenter augmenter();

  void close();
}
