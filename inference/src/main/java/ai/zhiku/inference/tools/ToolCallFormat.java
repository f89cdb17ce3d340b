package ai.zhiku.inference.tools;

/**
 * How a family writes one tool call, so decoding can be held to it when a call is required:
 * {@code prefix} (text, may hold special tokens), a JSON object {@code {nameKey: name,
 * argumentsKey: {...}}}, then {@code suffix}; or, with {@code glmPython}, ChatGLM3's call: the
 * name on its own line, then {@code  ```python\ntool_call(k=v, ...)\n```} with Python literals.
 */
public record ToolCallFormat(String prefix, String nameKey, String argumentsKey, String suffix, boolean glmPython) {
  public ToolCallFormat(String prefix, String nameKey, String argumentsKey, String suffix) {
    this(prefix, nameKey, argumentsKey, suffix, false);
  }

  /** ChatGLM3's format (the one {@link ChatGlm3ToolParser} reads). */
  public static ToolCallFormat chatGlm3() { return new ToolCallFormat("", null, null, "", true); }
}
