package ai.zhiku.kb;

/**
 * A request to create a knowledge base. Null fields take defaults: the configured default embedding model,
 * {@link KnowledgeBaseService#DEFAULT_CHUNK_SIZE}, {@link KnowledgeBaseService#DEFAULT_CHUNK_OVERLAP}, and the
 * built-in prompt templates (Chinese, or English for English questions).
 */
public record CreateKnowledgeBase(
    String name, String embeddingModel, Integer chunkSize, Integer chunkOverlap, String promptTemplate, String description) {
  /** Without a description. */
  public CreateKnowledgeBase(String name, String embeddingModel, Integer chunkSize, Integer chunkOverlap, String promptTemplate) {
    this(name, embeddingModel, chunkSize, chunkOverlap, promptTemplate, null);
  }

  public static CreateKnowledgeBase named(String name) {
    return new CreateKnowledgeBase(name, null, null, null, null);
  }
}
