package ai.zhiku.inference.model;

import ai.djl.ndarray.NDArray;
import ai.zhiku.inference.model.layers.Matrix;

/**
 * One decoder layer's weights in the shared layout.
 *
 * @param attnNorm [hidden]
 * @param qkv [(heads + 2 * kvHeads) * headDim, hidden]: all query heads (grouped by key/value
 *     head), then all key heads, then all value heads
 * @param qkvBias [(heads + 2 * kvHeads) * headDim] or null
 * @param out [hidden, heads * headDim]
 * @param ffnNorm [hidden]
 * @param gateUp [2 * ffn, hidden]: gate rows, then up rows
 * @param down [hidden, ffn]
 */
public record LayerWeights(NDArray attnNorm, Matrix qkv, NDArray qkvBias, Matrix out,
                           NDArray ffnNorm, Matrix gateUp, Matrix down) {}
