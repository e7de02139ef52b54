package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;

/**
 * The key/value cache of incremental decoding, shared by every decoder here: per layer, self-attention
 * keys/values [B, H, t, D] that grow by one position per step, and cross-attention keys/values
 * [B, H, S, D] of the encoder output with its additive mask [B, 1, 1, S], computed once.
 *
 * <p>The cache owns its arrays in its own sub-manager so that a long generation does not pile up
 * superseded caches: {@link #append} frees the previous keys/values of that layer, and beam search
 * closes a state once it has been {@link #reorder reordered}.
 */
public final class KvCache implements Seq2SeqModel.DecoderState {
    private final NDManager parent;
    private final NDManager manager;
    private final NDArray[] selfK;
    private final NDArray[] selfV;
    private final NDArray[] crossK;
    private final NDArray[] crossV;
    private final NDArray crossMask;
    private long length;

    private KvCache(NDManager parent, int layers, NDArray crossMask) {
        this.parent = parent;
        this.manager = parent.newSubManager();
        this.selfK = new NDArray[layers];
        this.selfV = new NDArray[layers];
        this.crossK = new NDArray[layers];
        this.crossV = new NDArray[layers];
        this.crossMask = crossMask;
        if (crossMask != null) crossMask.attach(manager);
    }

    /**
     * An empty cache for {@code layers} decoder layers; {@code crossKv[i]} are layer i's cross-attention
     * keys/values, {@code encoderMask} [B, S] the encoder padding mask (1 keep, 0 pad; null = keep all).
     * Arrays are moved into the cache's manager (a child of {@code parent}).
     */
    public static KvCache start(NDManager parent, NDArray[][] crossKv, NDArray encoderMask) {
        NDArray mask = encoderMask == null ? null : Attention.paddingMask(encoderMask);
        KvCache c = new KvCache(parent, crossKv.length, mask);
        for (int i = 0; i < crossKv.length; i++) {
            c.crossK[i] = own(c.manager, crossKv[i][0]);
            c.crossV[i] = own(c.manager, crossKv[i][1]);
        }
        return c;
    }

    private static NDArray own(NDManager m, NDArray a) {
        if (a != null) a.attach(m);
        return a;
    }

    /** Layer {@code layer}'s self-attention keys/values extended by {@code k}/{@code v} [B, H, n, D]. */
    public NDArray[] append(int layer, NDArray k, NDArray v) {
        NDArray oldK = selfK[layer], oldV = selfV[layer];
        if (oldK == null) {
            selfK[layer] = own(manager, k);
            selfV[layer] = own(manager, v);
        } else {
            // the concatenation belongs to the receiver's manager, i.e. this cache's
            selfK[layer] = oldK.concat(k, 2);
            selfV[layer] = oldV.concat(v, 2);
            oldK.close();
            oldV.close();
        }
        return new NDArray[] {selfK[layer], selfV[layer]};
    }

    public NDArray[] cross(int layer) {
        return new NDArray[] {crossK[layer], crossV[layer]};
    }

    /** Additive encoder padding mask [B, 1, 1, S] (null when every position is kept). */
    public NDArray crossMask() {
        return crossMask;
    }

    /** Records that one more position has been decoded (called once per step by the model). */
    public void advance(long positions) {
        length += positions;
    }

    @Override
    public long length() {
        return length;
    }

    public int layers() {
        return selfK.length;
    }

    @Override
    public KvCache reorder(NDArray rows) {
        NDIndex idx = new NDIndex("{}", rows);
        KvCache c = new KvCache(parent, selfK.length, crossMask == null ? null : crossMask.get(idx));
        for (int i = 0; i < selfK.length; i++) {
            c.selfK[i] = selfK[i] == null ? null : own(c.manager, selfK[i].get(idx));
            c.selfV[i] = selfV[i] == null ? null : own(c.manager, selfV[i].get(idx));
            c.crossK[i] = crossK[i] == null ? null : own(c.manager, crossK[i].get(idx));
            c.crossV[i] = crossV[i] == null ? null : own(c.manager, crossV[i].get(idx));
        }
        c.length = length;
        return c;
    }

    @Override
    public void close() {
        manager.close();
    }
}
