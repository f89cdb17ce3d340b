package ai.zhiku.common.engine;

/**
 * A tool the client offers the model: an OpenAI {@code tools[]} entry.
 *
 * @param name the function's name
 * @param json the entry as the client sent it ({@code {"type":"function","function":{...}}}),
 *     keys in the client's order: families render it (or its {@code function} part) as JSON
 */
public record ChatTool(String name, String json) {}
