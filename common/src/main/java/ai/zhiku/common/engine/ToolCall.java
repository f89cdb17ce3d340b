package ai.zhiku.common.engine;

/**
 * A function call, in an assistant message of the history or parsed from a model's output.
 *
 * @param id the call's id (OpenAI {@code call_...}); null when the model's format has none
 * @param name the function's name
 * @param arguments the arguments as JSON object text, as OpenAI carries them
 */
public record ToolCall(String id, String name, String arguments) {}
