package ai.zhiku.common.engine;

/** One generation: a prompt, how to sample, and whether the prompt text is echoed first. */
public record GenerationRequest(String requestId, PromptInput input, SamplingParams sampling, boolean echo) {}
