package ai.zhiku.protocol;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The model list as clients see it, built from a worker table: one card per served name, sorted,
 * with the number of workers serving it and the smallest context any of them offers. The
 * controller (ListModels) and the api-server (its own copy of the table) build it the same way.
 */
public final class ModelCards {
  private ModelCards() {}

  public static List<ModelCard> of(Iterable<WorkerInfo> workers) {
    Map<String, ModelCard.Builder> byName = new TreeMap<>();
    for (WorkerInfo w : workers) {
      for (String name : w.getModelNamesList()) {
        ModelCard.Builder b = byName.computeIfAbsent(name, n -> ModelCard.newBuilder()
            .setName(n).setKind(w.getKind()).setContextLength(w.getContextLength())
            .setEmbeddingDimension(w.getEmbeddingDimension()));
        b.setWorkers(b.getWorkers() + 1);
        b.setContextLength(Math.min(b.getContextLength(), w.getContextLength()));
      }
    }
    List<ModelCard> out = new ArrayList<>(byName.size());
    byName.values().forEach(b -> out.add(b.build()));
    return out;
  }
}
