package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.Arrays;

/**
 * The key/value cache of incremental decoding, shared by every decoder here: per layer, self-attention
 * keys/values [B, H, t, D] that grow by one position per step, and cross-attention keys/values
 * [B, H, S, D] of the encoder output with its additive mask [B, 1, 1, S], computed once.
 *
 * <p>The cache owns its self-attention arrays in its own sub-manager so that a long generation does not
 * pile up superseded caches: {@link #append} frees the previous keys/values of that layer, and beam search
 * closes a state once it has been {@link #reorder reordered}. Cross-attention arrays are reference-counted
 * and shared between a state and its reorderings whenever every row keeps reading the same encoder row
 * (as beams of one input do), so beam search gathers them once (to expand the batch), not at every step.
 */
public final class KvCache implements Seq2SeqModel.DecoderState {
    private final NDManager parent;
    private final NDManager manager;
    private final NDArray[] selfK;
    private final NDArray[] selfV;
    private final Cross cross;
    private final long[] source; // encoder row read by each cache row
    private long length;
    private boolean closed;

    /** Cross-attention keys/values and mask, owned jointly by the caches that read them. */
    private static final class Cross {
        final NDManager manager;
        final NDArray[] k;
        final NDArray[] v;
        final NDArray mask;
        int refs = 1;

        Cross(NDManager parent, NDArray[] k, NDArray[] v, NDArray mask) {
            manager = parent.newSubManager();
            this.k = k;
            this.v = v;
            this.mask = mask;
            for (NDArray a : k) own(manager, a);
            for (NDArray a : v) own(manager, a);
            own(manager, mask);
        }

        synchronized void retain() {
            refs++;
        }

        synchronized void release() {
            if (--refs == 0) manager.close();
        }
    }

    private KvCache(NDManager parent, int layers, Cross cross, long[] source) {
        this.parent = parent;
        this.manager = parent.newSubManager();
        this.selfK = new NDArray[layers];
        this.selfV = new NDArray[layers];
        this.cross = cross;
        this.source = source;
    }

    /**
     * An empty cache for {@code crossKv.length} decoder layers; {@code crossKv[i]} are layer i's
     * cross-attention keys/values, {@code encoderMask} [B, S] the encoder padding mask (1 keep, 0 pad;
     * null = keep all). Arrays are moved into managers under {@code parent}.
     */
    public static KvCache start(NDManager parent, NDArray[][] crossKv, NDArray encoderMask) {
        NDArray mask = encoderMask == null ? null : Attention.paddingMask(encoderMask);
        int layers = crossKv.length;
        NDArray[] k = new NDArray[layers], v = new NDArray[layers];
        for (int i = 0; i < layers; i++) {
            k[i] = crossKv[i][0];
            v[i] = crossKv[i][1];
        }
        long rows = layers > 0
                ? k[0].getShape().get(0)
                : encoderMask == null ? 0 : encoderMask.getShape().get(0);
        long[] source = new long[(int) rows];
        for (int r = 0; r < source.length; r++) source[r] = r;
        return new KvCache(parent, layers, new Cross(parent, k, v, mask), source);
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
        return new NDArray[] {cross.k[layer], cross.v[layer]};
    }

    /** Additive encoder padding mask [B, 1, 1, S] (null when every position is kept). */
    public NDArray crossMask() {
        return cross.mask;
    }

    /** Records that {@code positions} more positions have been decoded (called by the model's step). */
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
        long[] r = rows.toLongArray();
        long[] newSource = new long[r.length];
        for (int i = 0; i < r.length; i++) newSource[i] = source[(int) r[i]];
        NDIndex idx = new NDIndex("{}", rows);
        Cross c;
        if (Arrays.equals(newSource, source)) {
            cross.retain(); // every row still reads the encoder row it read before: same cross keys/values
            c = cross;
        } else {
            int layers = cross.k.length;
            NDArray[] k = new NDArray[layers], v = new NDArray[layers];
            for (int i = 0; i < layers; i++) {
                k[i] = cross.k[i].get(idx);
                v[i] = cross.v[i].get(idx);
            }
            c = new Cross(parent, k, v, cross.mask == null ? null : cross.mask.get(idx));
        }
        KvCache out = new KvCache(parent, selfK.length, c, newSource);
        for (int i = 0; i < selfK.length; i++) {
            out.selfK[i] = selfK[i] == null ? null : own(out.manager, selfK[i].get(idx));
            out.selfV[i] = selfV[i] == null ? null : own(out.manager, selfV[i].get(idx));
        }
        out.length = length;
        return out;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        manager.close();
        cross.release();
    }
}
