package ai.zhiku.common.engine;

/**
 * OpenAI's {@code tool_choice} (with {@code parallel_tool_calls}): whether the model may, must or
 * must not call one of the offered tools, or must call one named function.
 *
 * @param function the function's name for {@link Mode#FUNCTION}, else null
 * @param parallel whether one reply may hold several calls
 */
public record ToolChoice(Mode mode, String function, boolean parallel) {
  public enum Mode { AUTO, NONE, REQUIRED, FUNCTION }

  public static final ToolChoice AUTO = new ToolChoice(Mode.AUTO, null, true);

  public ToolChoice {
    if ((mode == Mode.FUNCTION) != (function != null)) {
      throw new IllegalArgumentException("a function name goes with mode FUNCTION only");
    }
  }

  /** The reply must be a tool call (required, or a named function): decoding is constrained to one. */
  public boolean forced() { return mode == Mode.REQUIRED || mode == Mode.FUNCTION; }
}
