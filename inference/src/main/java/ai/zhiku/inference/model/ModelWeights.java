package ai.zhiku.inference.model;

import ai.djl.ndarray.NDArray;
import ai.zhiku.inference.model.layers.Matrix;
import java.util.List;

/**
 * A decoder's weights in the shared layout.
 *
 * @param embedding [vocab, hidden]
 * @param finalNorm [hidden]
 * @param lmHead [vocab, hidden]
 */
public record ModelWeights(Matrix embedding, List<LayerWeights> layers, NDArray finalNorm, Matrix lmHead) {}
