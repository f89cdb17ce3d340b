package ai.zhiku.controller;

import ai.zhiku.common.DispatchPolicy;
import ai.zhiku.protocol.ModelCard;
import ai.zhiku.protocol.ModelCards;
import ai.zhiku.protocol.ModelKind;
import ai.zhiku.protocol.WorkerInfo;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/**
 * The controller's table of live workers. Thread-safe: gRPC handlers and the expiry timer may run
 * on different threads.
 */
public final class WorkerRegistry {

  private static final class Entry {
    final WorkerRecord record;
    int queueLength;
    int running;
    long lastHeartbeatMs;

    Entry(WorkerRecord record, long now) {
      this.record = record;
      this.lastHeartbeatMs = now;
    }
  }

  private final Map<String, Entry> workers = new LinkedHashMap<>();
  private final DispatchPolicy policy;
  private final LongSupplier clock;

  public WorkerRegistry(DispatchPolicy policy, LongSupplier clockMillis) {
    this.policy = policy;
    this.clock = clockMillis;
  }

  public DispatchPolicy policy() {
    return policy;
  }

  public synchronized void register(WorkerRecord record, int queueLength) {
    Entry e = new Entry(record, clock.getAsLong());
    e.queueLength = queueLength;
    workers.put(record.address(), e);
  }

  /** Returns false when the worker is unknown (it must register again). */
  public synchronized boolean heartbeat(String address, int queueLength, int running) {
    Entry e = workers.get(address);
    if (e == null) {
      return false;
    }
    e.queueLength = queueLength;
    e.running = running;
    e.lastHeartbeatMs = clock.getAsLong();
    return true;
  }

  public synchronized boolean deregister(String address) {
    return workers.remove(address) != null;
  }

  /** Drops workers whose last heartbeat is older than {@code expiryMs}; returns their addresses. */
  public synchronized List<String> expire(long expiryMs) {
    long now = clock.getAsLong();
    List<String> expired = new ArrayList<>();
    workers.values().removeIf(e -> {
      if (now - e.lastHeartbeatMs > expiryMs) {
        expired.add(e.record.address());
        return true;
      }
      return false;
    });
    return expired;
  }

  /** Picks a worker for the model, or null when none serves it. */
  public synchronized String dispatch(String model, Set<String> exclude) {
    List<Entry> entries = new ArrayList<>();
    for (Entry e : workers.values()) {
      if (e.record.modelNames().contains(model) && !exclude.contains(e.record.address())) {
        entries.add(e);
      }
    }
    if (entries.isEmpty()) {
      return null;
    }
    List<DispatchPolicy.Candidate> candidates = new ArrayList<>(entries.size());
    for (Entry e : entries) {
      candidates.add(new DispatchPolicy.Candidate(e.record.address(), e.record.speed(), e.queueLength));
    }
    Entry chosen = entries.get(policy.pick(candidates));
    if (policy.countsPicks()) {
      chosen.queueLength++;
    }
    return chosen.record.address();
  }

  public synchronized List<ModelCard> models() {
    return ModelCards.of(workers());
  }

  public synchronized List<WorkerInfo> workers() {
    List<WorkerInfo> out = new ArrayList<>();
    for (Entry e : workers.values()) {
      out.add(WorkerInfo.newBuilder()
          .setWorkerAddress(e.record.address())
          .addAllModelNames(e.record.modelNames())
          .setKind(e.record.kind())
          .setContextLength(e.record.contextLength())
          .setSpeed(e.record.speed())
          .setQueueLength(e.queueLength)
          .setRunning(e.running)
          .setLastHeartbeatUnixMs(e.lastHeartbeatMs)
          .setEmbeddingDimension(e.record.embeddingDimension())
          .setMaxConcurrency(e.record.maxConcurrency())
          .setMaxQueue(e.record.maxQueue())
          .build());
    }
    return out;
  }

  public synchronized int size() {
    return workers.size();
  }

  /** Whether any live worker serves the model. */
  public synchronized boolean serves(String model) {
    for (Entry e : workers.values()) {
      if (e.record.modelNames().contains(model)) {
        return true;
      }
    }
    return false;
  }

  /** Live worker count per model, for the workers gauge. */
  public synchronized Map<String, Integer> workersPerModel() {
    Map<String, Integer> out = new TreeMap<>();
    for (Entry e : workers.values()) {
      for (String m : new HashSet<>(e.record.modelNames())) {
        out.merge(m, 1, Integer::sum);
      }
    }
    return out;
  }

  static ModelKind kindOrChat(ModelKind kind) {
    return kind == ModelKind.MODEL_KIND_UNSPECIFIED ? ModelKind.MODEL_KIND_CHAT : kind;
  }
}
