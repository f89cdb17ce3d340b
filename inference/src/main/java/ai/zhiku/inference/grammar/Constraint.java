package ai.zhiku.inference.grammar;

import ai.zhiku.inference.grammar.JsonMachine.State;

/**
 * One sequence's place in its {@link Grammar}: which forced id comes next, or which JSON states it
 * is in. Per step the engine calls {@link #apply} on the sequence's logits before sampling and
 * {@link #accept} with the token drawn. Not thread-safe: one sequence, one thread at a time.
 */
public final class Constraint {
  private enum Phase { PREFIX, JSON, SUFFIX, DONE }

  private final Grammar grammar;
  private Phase phase;
  private int forced;
  private State[] conf;
  private int size;
  private final JsonMachine.Out out = new JsonMachine.Out();
  private long maskNanos;

  Constraint(Grammar grammar) {
    this.grammar = grammar;
    this.phase = grammar.prefix.length > 0 ? Phase.PREFIX : Phase.JSON;
    this.conf = new State[] {JsonMachine.initial(grammar.root)};
    this.size = 1;
  }

  Grammar grammar() { return grammar; }

  /** Whether the output is complete: only a stop id may follow. */
  public boolean complete() { return phase == Phase.DONE; }

  /** Time spent computing masks for this sequence (cache hits cost almost nothing). */
  public long maskNanos() { return maskNanos; }

  /** Sets every logit of logits[off, off + n) that the grammar does not allow here to -infinity. */
  public void apply(float[] logits, int off, int n) {
    long t0 = System.nanoTime();
    switch (phase) {
      case PREFIX -> only(logits, off, n, grammar.prefix[forced], null);
      case SUFFIX -> only(logits, off, n, grammar.suffix[forced], null);
      case DONE -> only(logits, off, n, -1, grammar.stopIds);
      case JSON -> {
        long[] mask = grammar.mask(conf, size);
        boolean end = accepting();
        int keepId = end && grammar.suffix.length > 0 ? grammar.suffix[0] : -1;
        int[] keepIds = end && grammar.suffix.length == 0 ? grammar.stopIds : null;
        boolean any = false;
        for (int i = 0; i < n; i++) {
          boolean ok = i < grammar.trie.vocab && (mask[i >>> 6] & (1L << i)) != 0;
          if (!ok && (i == keepId || contains(keepIds, i))) ok = true;
          if (ok) any = true;
          else logits[off + i] = Float.NEGATIVE_INFINITY;
        }
        if (!any) only(logits, off, n, -1, grammar.stopIds); // a dead end (cannot happen for a sound shape): stop
      }
    }
    maskNanos += System.nanoTime() - t0;
  }

  /** Moves past the token drawn. */
  public void accept(int id) {
    switch (phase) {
      case PREFIX -> {
        if (++forced == grammar.prefix.length) {
          phase = Phase.JSON;
          forced = 0;
        }
      }
      case SUFFIX -> {
        if (++forced == grammar.suffix.length) phase = Phase.DONE;
      }
      case DONE -> { }
      case JSON -> {
        if (accepting() && grammar.suffix.length > 0 && id == grammar.suffix[0]) {
          forced = 1;
          phase = grammar.suffix.length == 1 ? Phase.DONE : Phase.SUFFIX;
          return;
        }
        if (accepting() && contains(grammar.stopIds, id)) {
          phase = Phase.DONE;
          return;
        }
        byte[] bytes = grammar.trie.vocab > id ? bytesOf(id) : null;
        if (bytes == null) return; // not text (only reachable through the dead-end fallback)
        for (byte b : bytes) {
          out.clear();
          for (int i = 0; i < size; i++) JsonMachine.feed(conf[i], b & 0xff, out);
          conf = java.util.Arrays.copyOf(out.states, out.size);
          size = out.size;
          if (size == 0) return;
        }
      }
    }
  }

  private byte[] bytesOf(int id) { return grammar.tokenBytes(id); }

  private boolean accepting() {
    for (int i = 0; i < size; i++) if (JsonMachine.accepting(conf[i])) return true;
    return false;
  }

  private static boolean contains(int[] ids, int id) {
    if (ids == null) return false;
    for (int x : ids) if (x == id) return true;
    return false;
  }

  private static void only(float[] logits, int off, int n, int id, int[] ids) {
    for (int i = 0; i < n; i++) {
      if (i != id && !contains(ids, i)) logits[off + i] = Float.NEGATIVE_INFINITY;
    }
  }
}
