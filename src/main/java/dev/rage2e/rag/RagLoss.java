package dev.rage2e.rag;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rage2e.model.Scalars;
import dev.rage2e.util.Choice;

/**
 * RAG's marginalised negative log-likelihoods (Lewis et al. 2020, eqs. 1-2), defined exactly as HF's
 * {@code RagTokenForGeneration.get_nll} / {@code RagSequenceForGeneration.get_nll}:
 *
 * <ul>
 *   <li>RAG-token: p(y_i | x) = sum_z p(z|x) p(y_i | x, z, y_<i), marginalised at every position.
 *   <li>RAG-sequence: p(y | x) = sum_z p(z|x) prod_i p(y_i | x, z, y_<i); HF adds the doc log-prior at
 *       target position 1 of every vocabulary entry so the label-smoothing term is marginalised too.
 * </ul>
 *
 * Targets are the labels shifted left by one and padded; pad positions contribute nothing.
 * {@code loss = (1-eps) * nll + eps/V * smooth}; per example [B], or summed to a scalar when reduced.
 */
public final class RagLoss {
    private RagLoss() {}

    public enum Kind implements Choice {
        TOKEN,
        SEQUENCE;

        @Override
        public String label() {
            return this == TOKEN ? "rag-token" : "rag-sequence";
        }

        @Override
        public String toString() {
            return label();
        }

        public static Kind parse(String s) {
            return switch (s) {
                case "rag-token", "token", "rag_token" -> TOKEN;
                case "rag-sequence", "sequence", "rag_sequence" -> SEQUENCE;
                default ->
                    throw new IllegalArgumentException("model type must be rag-token or rag-sequence, got '" + s + "'");
            };
        }
    }

    /**
     * @param seqLogits [B*n, T, V] generator logits; row b*n + j is example b with document j
     * @param docScores [B, n] retrieval scores q·d
     * @param labels [B, T] unshifted labels (as fed to the decoder)
     */
    public static NDArray nll(
            Kind kind,
            NDArray seqLogits,
            NDArray docScores,
            NDArray labels,
            long padId,
            long bosId,
            float epsilon,
            boolean reduce,
            boolean excludeBosScore) {
        NDArray target = shiftLeft(labels, padId);
        return kind == Kind.TOKEN
                ? tokenNll(seqLogits, docScores, target, padId, epsilon, reduce)
                : sequenceNll(seqLogits, docScores, target, padId, bosId, epsilon, reduce, excludeBosScore);
    }

    /** log sum_z p(z|x) p(y_t = v | x, z, y_<t) for every position and vocabulary entry: [B, T, V]. */
    public static NDArray marginalize(NDArray seqLogits, NDArray docScores) {
        long b = docScores.getShape().get(0), n = docScores.getShape().get(1);
        long t = seqLogits.getShape().get(1), v = seqLogits.getShape().get(2);
        NDArray seqLogprobs = seqLogits.logSoftmax(-1).reshape(b, n, t, v);
        NDArray docLogprobs = docScores.logSoftmax(1).reshape(b, n, 1, 1);
        return logSumExp(seqLogprobs.add(docLogprobs), 1);
    }

    static NDArray tokenNll(
            NDArray seqLogits, NDArray docScores, NDArray target, long padId, float eps, boolean reduce) {
        NDArray marg = marginalize(seqLogits, docScores); // [B,T,V]
        NDArray idx = target.expandDims(-1);
        NDArray keep = target.neq(padId).toType(DataType.FLOAT32, false); // [B,T]
        NDArray ll = marg.gather(idx, 2).squeeze(-1).mul(keep).sum(new int[] {1});
        NDArray smooth = marg.sum(new int[] {2}).mul(keep).sum(new int[] {1});
        return combine(ll, smooth, marg.getShape().get(2), eps, reduce);
    }

    static NDArray sequenceNll(
            NDArray seqLogits,
            NDArray docScores,
            NDArray target,
            long padId,
            long bosId,
            float eps,
            boolean reduce,
            boolean excludeBosScore) {
        long b = docScores.getShape().get(0), n = docScores.getShape().get(1);
        long t = seqLogits.getShape().get(1), v = seqLogits.getShape().get(2);
        boolean useBos = excludeBosScore && target.get(":, 0").eq(bosId).all().getBoolean();
        NDArray lp = seqLogits.logSoftmax(-1).reshape(b, n, t, v);
        NDArray docLp = docScores.logSoftmax(1).reshape(b, n, 1, 1);
        NDArray ragLp;
        if (t >= 2) {
            NDList parts =
                    new NDList(lp.get(":, :, 0:1, :"), lp.get(":, :, 1:2, :").add(docLp));
            if (t > 2) parts.add(lp.get(":, :, 2:, :"));
            ragLp = NDArrays.concat(parts, 2);
        } else {
            ragLp = lp; // HF adds the prior at position 1 only; with one position there is none
        }
        NDArray idx = target.expandDims(1).expandDims(-1).repeat(1, n); // [B,n,T,1]
        NDArray keep = target.neq(padId).toType(DataType.FLOAT32, false).expandDims(1); // [B,1,T]
        NDArray ll = ragLp.gather(idx, 3).squeeze(-1).mul(keep); // [B,n,T]
        NDArray smooth = ragLp.sum(new int[] {3}).mul(keep);
        ll = useBos ? ll.get(":, :, 1:").sum(new int[] {2}) : ll.sum(new int[] {2});
        smooth = smooth.sum(new int[] {2});
        return combine(logSumExp(ll, 1), logSumExp(smooth, 1), v, eps, reduce);
    }

    private static NDArray combine(NDArray ll, NDArray smooth, long vocab, float eps, boolean reduce) {
        NDArray nll = ll.neg();
        NDArray smoothLoss = smooth.neg();
        if (reduce) {
            nll = nll.sum();
            smoothLoss = smoothLoss.sum();
        }
        return Scalars.mul(nll, 1f - eps).add(Scalars.mul(smoothLoss, eps / vocab));
    }

    /** {@code cat(labels[:, 1:], pad)}. */
    public static NDArray shiftLeft(NDArray labels, long padId) {
        long b = labels.getShape().get(0);
        NDArray pad = labels.getManager().full(new Shape(b, 1), padId, labels.getDataType());
        return labels.get(":, 1:").concat(pad, 1);
    }

    /** Numerically stable log-sum-exp over one axis (that axis removed). */
    public static NDArray logSumExp(NDArray x, int axis) {
        NDArray m = x.max(new int[] {axis}, true).stopGradient();
        // rows that are all -inf would give NaN; clamp the shift to a finite value
        m = NDArrays.where(m.isInfinite(), m.zerosLike(), m);
        return x.sub(m).exp().sum(new int[] {axis}).log().add(m.squeeze(axis));
    }
}
