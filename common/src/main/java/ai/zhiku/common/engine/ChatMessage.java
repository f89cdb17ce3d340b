package ai.zhiku.common.engine;

/** One OpenAI chat message, after the api-server flattened list-of-parts content to text. */
public record ChatMessage(String role, String content) {}
