package ai.zhiku.common.engine;

import java.util.List;

/** Vectors in input order, and the tokens they took (for usage). */
public record EmbeddingResult(List<float[]> vectors, int promptTokens) {}
