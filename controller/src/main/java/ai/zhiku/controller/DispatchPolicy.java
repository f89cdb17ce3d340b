package ai.zhiku.controller;

import java.util.List;
import java.util.Locale;
import java.util.random.RandomGenerator;

/** How the controller picks one worker among those that serve a model. */
public sealed interface DispatchPolicy permits DispatchPolicy.Lottery, DispatchPolicy.ShortestQueue {

  /** A live worker as a policy sees it. */
  record Candidate(String address, double speed, int queueLength) {}

  /** Index into {@code candidates} (never empty). */
  int pick(List<Candidate> candidates);

  String name();

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
  }

  static DispatchPolicy named(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "lottery" -> new Lottery(RandomGenerator.of("L64X128MixRandom"));
      case "shortest_queue", "shortest-queue" -> new ShortestQueue();
      default -> throw new IllegalArgumentException("--dispatch-method must be lottery or shortest_queue, got '" + name + "'");
    };
  }
}
