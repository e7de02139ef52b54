package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/** Shared pieces of multi-head scaled dot-product attention. */
public final class Attention {
    /** HF v4.40 fills masked positions with the most negative float32, not -inf. */
    public static final float MASK_VALUE = -Float.MAX_VALUE;

    private Attention() {}

    /** [B, L, H*D] to [B, H, L, D]. */
    public static NDArray splitHeads(NDArray x, int heads) {
        long b = x.getShape().get(0), l = x.getShape().get(1), hd = x.getShape().get(2);
        return x.reshape(b, l, heads, hd / heads).transpose(0, 2, 1, 3);
    }

    /** [B, H, L, D] to [B, L, H*D]. */
    public static NDArray mergeHeads(NDArray x) {
        long b = x.getShape().get(0),
                h = x.getShape().get(1),
                l = x.getShape().get(2),
                d = x.getShape().get(3);
        return x.transpose(0, 2, 1, 3).reshape(b, l, h * d);
    }

    /**
     * softmax(q k^T / sqrt(d) + mask) v for q [B,H,Lq,D], k/v [B,H,Lk,D]; {@code additiveMask}
     * broadcasts to [B,H,Lq,Lk] (0 keep, MASK_VALUE drop) and may be null.
     */
    public static NDArray attend(
            NDArray q, NDArray k, NDArray v, NDArray additiveMask, float dropout, boolean training) {
        long d = q.getShape().get(3);
        return attend(q, k, v, additiveMask, dropout, training, (float) Math.sqrt(d));
    }

    /**
     * As above with the scores divided by {@code divisor}; 1 skips the division (BART scales the query
     * projection instead, as HF's {@code BartAttention} does).
     *
     * <p>Why the order differs from the formula: the [B, H, Lq, Lk] tensors are the step's largest (a span-reader
     * batch of 16 x 256 tokens with 12 heads: 50 MB a layer) and every pass over them is memory-bound. So the
     * division is applied to q (Lk/D times smaller) and dropout's 1/(1-p) to the output (likewise), and the dropped
     * probabilities are selected away with a boolean mask instead of multiplied by a float one (no float mask to
     * build and scale). Same result up to float rounding, forward and backward.
     */
    public static NDArray attend(
            NDArray q, NDArray k, NDArray v, NDArray additiveMask, float dropout, boolean training, float divisor) {
        if (divisor != 1f) q = Scalars.div(q, divisor);
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2));
        if (additiveMask != null) scores = scores.add(additiveMask);
        NDArray probs = scores.softmax(-1);
        if (!training || dropout <= 0 || dropout >= 1)
            return Dropout.apply(probs, dropout, training).matMul(v);
        return Scalars.mul(Dropout.keptUnscaled(probs, dropout).matMul(v), 1 / (1 - dropout));
    }

    /** Padding mask [B, L] (1 keep, 0 pad) to additive [B, 1, 1, L]. */
    public static NDArray paddingMask(NDArray mask) {
        NDArray m = mask.toType(DataType.FLOAT32, false);
        return m.mul(-1f).add(1f).mul(MASK_VALUE).expandDims(1).expandDims(1);
    }

    /** Causal mask [1, 1, L, L] for decoder self-attention: position i sees j <= i. */
    public static NDArray causalMask(NDManager m, long len) {
        NDArray idx = m.arange(len);
        NDArray future = idx.expandDims(0).gt(idx.expandDims(1)); // [L,L] j > i
        return future.toType(DataType.FLOAT32, false)
                .mul(MASK_VALUE)
                .expandDims(0)
                .expandDims(0);
    }

    public static NDArray dropout(NDArray x, float p, boolean training) {
        return Dropout.apply(x, p, training);
    }
}
