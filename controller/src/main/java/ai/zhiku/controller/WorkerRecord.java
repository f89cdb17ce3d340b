package ai.zhiku.controller;

import ai.zhiku.protocol.ModelKind;
import java.util.List;

/** What the controller knows about one worker. Mutable load figures live in {@link WorkerRegistry}. */
record WorkerRecord(String address, List<String> modelNames, ModelKind kind, int contextLength, double speed, int embeddingDimension,
                    int maxConcurrency, int maxQueue) {}
