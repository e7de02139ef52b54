package dev.rage2e.model;

import ai.djl.ndarray.NDArray;

/** y = x W^T + b, with W stored [out, in] as in torch.nn.Linear. */
public final class Linear {
    public final NDArray weight;
    public final NDArray bias;

    public Linear(ParamStore p, String prefix, long in, long out, boolean withBias) {
        this.weight = p.get(prefix + ".weight", out, in);
        this.bias = withBias ? p.get(prefix + ".bias", out) : null;
    }

    public NDArray forward(NDArray x) {
        return ai.djl.nn.core.Linear.linear(x, weight, bias).singletonOrThrow();
    }
}
