package ai.zhiku.common.engine;

/** One input to embed: text, or token ids (OpenAI accepts both). Exactly one is non-null. */
public record EmbedItem(String text, int[] tokenIds) {
  public static EmbedItem text(String text) { return new EmbedItem(text, null); }

  public static EmbedItem tokens(int[] ids) { return new EmbedItem(null, ids); }
}
