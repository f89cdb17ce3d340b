package ai.zhiku.inference.tokenizer;

/** Constants of InternLM2's official chat code. */
public final class InternLm2Defaults {
  /** {@code meta_instruction} of the official {@code chat()}, used when a request has no system message. */
  public static final String META_INSTRUCTION = """
      You are an AI assistant whose name is InternLM (书生·浦语).
      - InternLM (书生·浦语) is a conversational language model that is developed by Shanghai AI Laboratory \
      (上海人工智能实验室). It is designed to be helpful, honest, and harmless.
      - InternLM (书生·浦语) can understand and communicate fluently in the language chosen by the user \
      such as English and 中文.""";

  private InternLm2Defaults() {}
}
