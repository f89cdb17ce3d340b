package ai.zhiku.api;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import io.vertx.ext.web.RoutingContext;
import java.util.List;

/** The scopes of the key a request came with; put on the routing context by authentication. */
public record Access(List<Scope> scopes) {
  static final String CONTEXT_KEY = "zhiku.access";
  /** No keys configured, or a key from {@code --api-keys}: everything. */
  public static final Access ALL = new Access(List.of(Scope.ADMIN));
  private static final Access NONE = new Access(List.of());

  public Access {
    scopes = List.copyOf(scopes);
  }

  /** The request's access; none when authentication did not run. */
  public static Access of(RoutingContext ctx) {
    Access a = ctx.get(CONTEXT_KEY);
    return a == null ? NONE : a;
  }

  public boolean allows(Scope needed) {
    return scopes.stream().anyMatch(s -> s.grants(needed));
  }

  /** 403 in OpenAI's shape naming the missing scope, unless the key has it. */
  public void require(Scope needed) {
    if (!allows(needed)) {
      throw new ZhikuException(ErrorKind.FORBIDDEN, "This API key lacks the scope `" + needed + "` (or `admin`) that this request needs.",
          null, "missing_scope");
    }
  }

  /** As {@link #require}, answering the 403 itself; true when the request may go on. */
  public static boolean check(RoutingContext ctx, Scope needed) {
    try {
      of(ctx).require(needed);
      return true;
    } catch (ZhikuException e) {
      OpenAiError.send(ctx.response(), e);
      return false;
    }
  }
}
