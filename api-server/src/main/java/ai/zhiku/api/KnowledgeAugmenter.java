package ai.zhiku.api;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;

/**
 * Turns a question into a prompt with retrieved context from a knowledge base. Implemented over the
 * kb library; absent when knowledge bases are off.
 */
public interface KnowledgeAugmenter {

  /** The augmented prompt and the sources it used ({document, text, score, chunk_index} objects). */
  record Augmented(String prompt, JsonArray sources) {}

  /** Fails with NOT_FOUND for an unknown knowledge base, UNAVAILABLE when the database is down. */
  Future<Augmented> augment(String knowledgeBase, String question, Integer topK, Float scoreThreshold);
}
