package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/** Teacher forcing: HF's label shifting and {@code torch.nn.CrossEntropyLoss} (ignore_index, label_smoothing). */
public final class Seq2SeqLoss {
    /** Label value that contributes nothing to the loss (torch's default {@code ignore_index}). */
    public static final long IGNORE_INDEX = -100;

    private Seq2SeqLoss() {}

    /**
     * HF's {@code shift_tokens_right}: decoder inputs [B, T] = start token then labels[:, :-1], with
     * ignored labels (-100) replaced by {@code pad}.
     */
    public static NDArray shiftTokensRight(NDArray labels, long pad, long start) {
        NDManager m = labels.getManager();
        long b = labels.getShape().get(0);
        NDArray first = m.full(new Shape(b, 1), start, DataType.INT64);
        NDArray shifted = first.concat(labels.get(":, :-1").toType(DataType.INT64, false), 1);
        return NDArrays.where(shifted.eq(IGNORE_INDEX), m.full(shifted.getShape(), pad, DataType.INT64), shifted);
    }

    /** Labels with {@code pad} positions replaced by {@link #IGNORE_INDEX} (so padding is not learned). */
    public static NDArray ignorePadding(NDArray labels, long pad) {
        NDManager m = labels.getManager();
        return NDArrays.where(labels.eq(pad), m.full(labels.getShape(), IGNORE_INDEX, DataType.INT64), labels);
    }

    /**
     * Mean token cross-entropy of {@code logits} [B, T, V] against {@code labels} [B, T] over positions whose
     * label is not {@link #IGNORE_INDEX}, as {@code torch.nn.CrossEntropyLoss(label_smoothing=eps)}:
     * per token {@code (1 - eps) * nll + eps * mean_v(-log p_v)}. Differentiable.
     */
    public static NDArray crossEntropy(NDArray logits, NDArray labels, float labelSmoothing) {
        if (labelSmoothing < 0 || labelSmoothing > 1)
            throw new IllegalArgumentException("label_smoothing must be in [0, 1]");
        NDArray logp = logits.logSoftmax(-1);
        NDArray keep = labels.neq(IGNORE_INDEX);
        NDArray safe = NDArrays.where(keep, labels, labels.zerosLike()).toType(DataType.INT64, false);
        NDArray nll = logp.gather(safe.expandDims(-1), -1).squeeze(-1).neg();
        NDArray perToken = nll;
        if (labelSmoothing > 0) {
            NDArray smooth = logp.mean(new int[] {-1}).neg();
            perToken = Scalars.mul(nll, 1 - labelSmoothing).add(Scalars.mul(smooth, labelSmoothing));
        }
        NDArray w = keep.toType(DataType.FLOAT32, false);
        return perToken.mul(w).sum().div(w.sum());
    }
}
