package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** LayerNorm over the last dimension with learned scale and shift. */
public final class LayerNorm {
    public final NDArray weight;
    public final NDArray bias;
    private final float eps;
    private final Shape normalized;

    public LayerNorm(ParamStore p, String prefix, long dim, float eps) {
        this.weight = p.get(prefix + ".weight", dim);
        this.bias = p.get(prefix + ".bias", dim);
        this.eps = eps;
        this.normalized = new Shape(dim);
    }

    public NDArray forward(NDArray x) {
        return x.getNDArrayInternal()
                .layerNorm(x, normalized, weight, bias, eps)
                .singletonOrThrow();
    }
}
