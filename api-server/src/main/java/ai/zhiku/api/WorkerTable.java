package ai.zhiku.api;

import ai.zhiku.common.Addresses;
import ai.zhiku.common.DispatchPolicy;
import ai.zhiku.common.GrpcLimits;
import ai.zhiku.protocol.ModelCard;
import ai.zhiku.protocol.ModelCards;
import ai.zhiku.protocol.WorkerInfo;
import ai.zhiku.protocol.WorkerStatusReply;
import io.vertx.core.net.SocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * The api-server's own copy of the controller's worker table, refreshed by polling (WorkerStatus),
 * and dispatch over it with the controller's policy ({@link DispatchPolicy}). With it the
 * controller is out of every request's path: while the controller is down the last table keeps
 * serving, and a worker that cannot be reached is skipped for a while.
 *
 * <p>It also remembers which model names were served recently, so that a model whose workers are
 * all gone answers 503 (retry) rather than 404 (never existed). Thread-safe.
 */
final class WorkerTable {
  /** How long a worker that could not be reached is skipped (unless nothing else serves its model). */
  static final long SUSPECT_MS = 2000;

  private static final class Entry {
    WorkerInfo info;
    final SocketAddress socket;
    int queueLength;
    long suspectUntil;
    int inFlight;

    Entry(WorkerInfo info) {
      this.info = info;
      this.socket = Addresses.parse("worker-address", info.getWorkerAddress());
      this.queueLength = info.getQueueLength();
    }

    int streamCap() {
      return info.getMaxConcurrency() <= 0 ? 100 : GrpcLimits.workerStreams(info.getMaxConcurrency(), info.getMaxQueue());
    }
  }

  /** A pick: the worker, or why there is none. */
  record Pick(String address, SocketAddress socket, boolean atCapacity, int cap) {
    boolean found() {
      return address != null;
    }
  }

  private final Map<String, Entry> workers = new LinkedHashMap<>();
  private final Map<String, Long> lastServed = new HashMap<>();
  private final LongSupplier clock;
  private final long retentionMs;
  private DispatchPolicy policy = DispatchPolicy.named("shortest_queue");
  private List<ModelCard> models = List.of();
  private long loadedAt = -1;
  private long controllerStartedAt;
  private boolean refilling;

  /** @param retentionMs how long a model name that was served is remembered once no worker serves it */
  WorkerTable(long retentionMs, LongSupplier clock) {
    this.retentionMs = retentionMs;
    this.clock = clock;
  }

  /**
   * Takes a fresh table from the controller. A controller that restarted (another start time than
   * the one seen before) and is younger than its heartbeat expiry may not have heard from every
   * worker yet (they re-register with their next heartbeat): until then workers it does not list
   * yet are kept, so a controller restart never empties the table.
   */
  synchronized void update(WorkerStatusReply reply) {
    long now = clock.getAsLong();
    if (controllerStartedAt != 0 && reply.getStartedUnixMs() != controllerStartedAt) {
      refilling = true;
    }
    controllerStartedAt = reply.getStartedUnixMs();
    if (reply.getUptimeMs() >= reply.getHeartbeatExpiryMs()) {
      refilling = false;
    }
    boolean filling = refilling;
    Map<String, Entry> next = new LinkedHashMap<>();
    for (WorkerInfo w : reply.getWorkersList()) {
      Entry e = workers.get(w.getWorkerAddress());
      if (e == null) {
        e = new Entry(w);
      } else {
        if (w.getLastHeartbeatUnixMs() != e.info.getLastHeartbeatUnixMs()) {
          e.queueLength = w.getQueueLength(); // a new heartbeat corrects the picks counted since
          e.suspectUntil = 0; // it heartbeats, so it is up again
        }
        e.info = w;
      }
      next.put(w.getWorkerAddress(), e);
    }
    if (filling) {
      workers.forEach(next::putIfAbsent);
    }
    workers.clear();
    workers.putAll(next);
    if (!reply.getDispatchMethod().isEmpty() && !reply.getDispatchMethod().equals(policy.name())) {
      policy = DispatchPolicy.named(reply.getDispatchMethod());
    }
    List<WorkerInfo> infos = new ArrayList<>(workers.size());
    workers.values().forEach(e -> infos.add(e.info));
    models = ModelCards.of(infos);
    for (ModelCard m : models) {
      lastServed.put(m.getName(), now);
    }
    lastServed.values().removeIf(at -> now - at > retentionMs);
    loadedAt = now;
  }

  /** Whether the table was ever loaded from a controller. */
  synchronized boolean loaded() {
    return loadedAt >= 0;
  }

  synchronized List<ModelCard> models() {
    return models;
  }

  synchronized ModelCard card(String name) {
    for (ModelCard c : models) {
      if (c.getName().equals(name)) {
        return c;
      }
    }
    return null;
  }

  /** Milliseconds since a worker last served {@code name}, or -1 when not within the retention time. */
  synchronized long servedAgoMs(String name) {
    Long at = lastServed.get(name);
    if (at == null) {
      return -1;
    }
    long ago = clock.getAsLong() - at;
    return ago > retentionMs ? -1 : ago;
  }

  synchronized String policyName() {
    return policy.name();
  }

  /**
   * Picks a worker for {@code model} with the policy, among those not excluded, not recently
   * unreachable (unless only such remain) and with fewer calls open from here than the streams
   * they accept. The pick counts as an open call until {@link #release}.
   */
  synchronized Pick pick(String model, Set<String> exclude) {
    long now = clock.getAsLong();
    List<Entry> serving = new ArrayList<>();
    for (Entry e : workers.values()) {
      if (e.info.getModelNamesList().contains(model) && !exclude.contains(Addresses.canonical(e.socket))) {
        serving.add(e);
      }
    }
    if (serving.isEmpty()) {
      dispatched("none", "no_worker"); // the name may be anything a client sent: not a label
      return new Pick(null, null, false, 0);
    }
    List<Entry> open = new ArrayList<>();
    int cap = 0;
    for (Entry e : serving) {
      cap = Math.max(cap, e.streamCap());
      if (e.inFlight < e.streamCap()) {
        open.add(e);
      }
    }
    if (open.isEmpty()) {
      dispatched(model, "saturated");
      return new Pick(null, null, true, cap);
    }
    List<Entry> healthy = open.stream().filter(e -> e.suspectUntil <= now).toList();
    List<Entry> entries = healthy.isEmpty() ? open : healthy;
    List<DispatchPolicy.Candidate> candidates = new ArrayList<>(entries.size());
    for (Entry e : entries) {
      candidates.add(new DispatchPolicy.Candidate(e.info.getWorkerAddress(), e.info.getSpeed(), e.queueLength));
    }
    Entry chosen = entries.get(policy.pick(candidates));
    if (policy.countsPicks()) {
      chosen.queueLength++;
    }
    chosen.inFlight++;
    dispatched(model, "ok");
    return new Pick(chosen.info.getWorkerAddress(), chosen.socket, false, chosen.streamCap());
  }

  /** Dispatch decisions by model, policy and outcome (the api-server dispatches; the controller only keeps the table). */
  private void dispatched(String model, String outcome) {
    ai.zhiku.common.Metrics.registry().counter("zhiku.api.dispatch", "model", model, "policy", policy.name(), "outcome", outcome)
        .increment();
  }

  /** A call picked by {@link #pick} ended. */
  synchronized void release(String address) {
    Entry e = workers.get(address);
    if (e != null && e.inFlight > 0) {
      e.inFlight--;
    }
  }

  /** The worker could not be reached: skip it for a while. */
  synchronized void unreachable(String address) {
    Entry e = workers.get(address);
    if (e != null) {
      e.suspectUntil = clock.getAsLong() + SUSPECT_MS;
    }
  }

  /** Calls open from this api-server to each worker (for tests and metrics). */
  synchronized Map<String, Integer> inFlight() {
    Map<String, Integer> out = new LinkedHashMap<>();
    workers.forEach((a, e) -> out.put(a, e.inFlight));
    return out;
  }

  synchronized int size() {
    return workers.size();
  }
}
