package ai.zhiku.inference.tools;

/**
 * How a family writes one tool call, so decoding can be held to it when a call is required:
 * {@code prefix} (text, may hold special tokens), a JSON object {@code {nameKey: name,
 * argumentsKey: {...}}}, then {@code suffix}.
 */
public record ToolCallFormat(String prefix, String nameKey, String argumentsKey, String suffix) {}
