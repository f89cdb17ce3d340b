package ai.zhiku.kb;

import java.time.Instant;

/** A stored document. contentHash is the sha-256 (hex) of the uploaded bytes. */
public record DocumentInfo(
    String id,
    String name,
    String contentHash,
    String contentType,
    long sizeBytes,
    int chunkCount,
    Instant createdAt,
    Instant updatedAt) {}
