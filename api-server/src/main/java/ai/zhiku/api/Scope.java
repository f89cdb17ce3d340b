package ai.zhiku.api;

/**
 * One permission of an API key: {@code admin} (everything), {@code chat} (models, completions,
 * embeddings, tokenize), {@code metrics} ({@code GET /metrics}), {@code kb:read:NAME} and
 * {@code kb:write:NAME} (write implies read; NAME may be {@code *} for every knowledge base).
 */
public record Scope(Kind kind, String knowledgeBase) {

  public enum Kind { ADMIN, CHAT, METRICS, KB_READ, KB_WRITE }

  public static final Scope ADMIN = new Scope(Kind.ADMIN, null);
  public static final Scope CHAT = new Scope(Kind.CHAT, null);
  public static final Scope METRICS = new Scope(Kind.METRICS, null);

  public static Scope kbRead(String name) {
    return new Scope(Kind.KB_READ, name);
  }

  public static Scope kbWrite(String name) {
    return new Scope(Kind.KB_WRITE, name);
  }

  /** Parses the wire form; IllegalArgumentException naming the text when it is none of the scopes. */
  public static Scope parse(String text) {
    switch (text) {
      case "admin": return ADMIN;
      case "chat": return CHAT;
      case "metrics": return METRICS;
      default:
        break;
    }
    for (String prefix : new String[] {"kb:read:", "kb:write:"}) {
      if (text.startsWith(prefix) && text.length() > prefix.length()) {
        String name = text.substring(prefix.length());
        return prefix.equals("kb:read:") ? kbRead(name) : kbWrite(name);
      }
    }
    throw new IllegalArgumentException("unknown scope `" + text + "` (admin, chat, metrics, kb:read:NAME, kb:write:NAME)");
  }

  /** Whether holding this scope grants {@code needed}. */
  public boolean grants(Scope needed) {
    if (kind == Kind.ADMIN || equals(needed)) {
      return true;
    }
    boolean kbNeeded = needed.kind == Kind.KB_READ || needed.kind == Kind.KB_WRITE;
    if (!kbNeeded || (kind != Kind.KB_WRITE && kind != needed.kind)) {
      return false;
    }
    return knowledgeBase.equals("*") || knowledgeBase.equals(needed.knowledgeBase);
  }

  @Override
  public String toString() {
    return switch (kind) {
      case ADMIN -> "admin";
      case CHAT -> "chat";
      case METRICS -> "metrics";
      case KB_READ -> "kb:read:" + knowledgeBase;
      case KB_WRITE -> "kb:write:" + knowledgeBase;
    };
  }
}
