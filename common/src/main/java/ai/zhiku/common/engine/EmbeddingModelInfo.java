package ai.zhiku.common.engine;

/** dimension of the vectors, max tokens per input, query instruction ("" when none). */
public record EmbeddingModelInfo(int dimension, int maxTokens, String queryInstruction) {}
