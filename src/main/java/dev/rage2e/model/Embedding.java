package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.SparseFormat;

/** A lookup table [num, dim]; rows are gathered by integer ids. */
public final class Embedding {
    public final NDArray weight;

    public Embedding(ParamStore p, String name, long num, long dim) {
        this.weight = p.get(name, num, dim);
    }

    public NDArray forward(NDArray ids) {
        return weight.getNDArrayInternal()
                .embedding(ids, weight, SparseFormat.DENSE)
                .singletonOrThrow();
    }
}
