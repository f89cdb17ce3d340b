package ai.zhiku.common;

import java.util.List;
import java.util.Locale;
import java.util.random.RandomGenerator;

/**
 * How one worker is picked among those that serve a model. Shared by the controller (its Dispatch
 * RPC) and the api-server (which dispatches from its own copy of the worker table, so the
 * controller is not in a request's path).
 */
public sealed interface DispatchPolicy permits DispatchPolicy.Lottery, DispatchPolicy.ShortestQueue {

  /** A live worker as a policy sees it. */
  record Candidate(String address, double speed, int queueLength) {}

  /** Index into {@code candidates} (never empty). */
  int pick(List<Candidate> candidates);

  String name();

  /**
   * Whether the table counts each pick into the chosen worker's queue at once (until the next
   * heartbeat corrects it), so that a burst spreads instead of piling onto one worker.
   */
  default boolean countsPicks() {
    return false;
  }

  /** Picks at random, each worker weighted by its speed. */
  record Lottery(RandomGenerator random) implements DispatchPolicy {
    @Override
    public int pick(List<Candidate> candidates) {
      double total = 0;
      for (Candidate c : candidates) {
        total += Math.max(c.speed(), 1e-9);
      }
      double r = random.nextDouble() * total;
      for (int i = 0; i < candidates.size(); i++) {
        r -= Math.max(candidates.get(i).speed(), 1e-9);
        if (r < 0) {
          return i;
        }
      }
      return candidates.size() - 1;
    }

    @Override
    public String name() {
      return "lottery";
    }
  }

  /**
   * Picks the worker with the least queue per unit of speed. The registry counts the pick into
   * that worker's queue at once, so a burst spreads before the next heartbeat corrects the figure.
   */
  record ShortestQueue() implements DispatchPolicy {
    @Override
    public int pick(List<Candidate> candidates) {
      int best = 0;
      double bestLoad = Double.MAX_VALUE;
      for (int i = 0; i < candidates.size(); i++) {
        Candidate c = candidates.get(i);
        double load = c.queueLength() / Math.max(c.speed(), 1e-9);
        if (load < bestLoad) {
          bestLoad = load;
          best = i;
        }
      }
      return best;
    }

    @Override
    public String name() {
      return "shortest_queue";
    }

    @Override
    public boolean countsPicks() {
      return true;
    }
  }

  /** The policy called {@code name} (the values of --dispatch-method). */
  static DispatchPolicy named(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "lottery" -> new Lottery(RandomGenerator.of("L64X128MixRandom"));
      case "shortest_queue", "shortest-queue" -> new ShortestQueue();
      default -> throw new IllegalArgumentException("--dispatch-method must be lottery or shortest_queue, got '" + name + "'");
    };
  }
}
