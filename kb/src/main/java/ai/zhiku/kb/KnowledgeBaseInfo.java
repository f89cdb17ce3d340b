package ai.zhiku.kb;

import java.time.Instant;

/**
 * A knowledge base as listed: its settings and how much it holds. promptTemplate is null for the
 * defaults, description null when none was given.
 */
public record KnowledgeBaseInfo(
    String name,
    String embeddingModel,
    int dimension,
    int chunkSize,
    int chunkOverlap,
    String promptTemplate,
    Instant createdAt,
    long documentCount,
    long chunkCount,
    String description) {}
