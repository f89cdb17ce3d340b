package ai.zhiku.kb;

import java.util.List;

/** A question wrapped in a knowledge base's template with retrieved context, and the chunks it used. */
public record AugmentedPrompt(String prompt, List<SearchHit> sources) {}
