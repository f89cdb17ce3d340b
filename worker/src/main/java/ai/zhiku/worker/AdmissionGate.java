package ai.zhiku.worker;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Admission control, as FastChat's {@code --limit-worker-concurrency} semaphore but with a bounded
 * wait queue: at most {@code limit} requests run; up to {@code maxQueue} more wait in order; the
 * rest are refused at once (the api-server answers 429).
 */
final class AdmissionGate {
  private final int limit;
  private final int maxQueue;
  private final Deque<Runnable> waiting = new ArrayDeque<>();
  private int running;

  AdmissionGate(int limit, int maxQueue) {
    this.limit = limit;
    this.maxQueue = maxQueue;
  }

  /**
   * Runs {@code start} now or when a slot frees. Returns a ticket to withdraw a waiting request, or
   * null when the queue is full and the request is refused.
   */
  synchronized Ticket enter(Runnable start) {
    if (running < limit) {
      running++;
      Ticket t = new Ticket(null);
      start.run();
      return t;
    }
    if (waiting.size() >= maxQueue) {
      return null;
    }
    waiting.addLast(start);
    return new Ticket(start);
  }

  /** A finished request gives its slot to the next waiting one. */
  void release() {
    Runnable next;
    synchronized (this) {
      next = waiting.pollFirst();
      if (next == null) {
        running--;
        return;
      }
    }
    next.run();
  }

  synchronized int running() {
    return running;
  }

  synchronized int queued() {
    return waiting.size();
  }

  int limit() {
    return limit;
  }

  final class Ticket {
    private final Runnable queued;

    private Ticket(Runnable queued) {
      this.queued = queued;
    }

    /** Withdraws a request still waiting; returns false when it already started. */
    boolean withdraw() {
      synchronized (AdmissionGate.this) {
        return queued != null && waiting.remove(queued);
      }
    }
  }
}
