package ai.zhiku.common.engine;

import java.util.List;

/**
 * One OpenAI chat message, after the api-server flattened list-of-parts content to text.
 *
 * @param content the text; may be empty (not null) for an assistant message that only calls tools
 * @param toolCalls the calls an assistant message made (empty for other roles)
 * @param toolCallId for {@code role: "tool"}: the call this result answers, or null
 * @param name for {@code role: "tool"}: the function's name when the client gave it, or null
 */
public record ChatMessage(String role, String content, List<ToolCall> toolCalls, String toolCallId, String name) {
  public ChatMessage {
    toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
  }

  public ChatMessage(String role, String content) {
    this(role, content, List.of(), null, null);
  }

  /** An assistant message that calls tools (content may be empty). */
  public static ChatMessage assistantCalls(String content, List<ToolCall> calls) {
    return new ChatMessage("assistant", content == null ? "" : content, calls, null, null);
  }

  /** A tool result ({@code role: "tool"}). */
  public static ChatMessage toolResult(String toolCallId, String name, String content) {
    return new ChatMessage("tool", content, List.of(), toolCallId, name);
  }
}
