package dev.rage2e.reader;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;

/**
 * The span reader's marginal likelihood over retrieved passages (REALM, Guu et al. 2020, with RAG's
 * p(z|x) = softmax(q·d)):
 *
 * <pre>
 *   p(y|x)   = sum_z p(z|x) p(y|x,z)
 *   p(y|x,z) = sum_{(s,e) in S(z,y)} p_start(s|x,z) p_end(e|x,z)
 * </pre>
 *
 * where S(z, y) are the spans of passage z whose normalised text is the answer. A passage without such a span
 * contributes nothing; an example whose retrieved passages all lack the answer has no reader term (its loss is 0,
 * it is counted in {@link Result#answerless()}): its probability is 0 under this model whatever the weights, so
 * there is no gradient to follow.
 */
public final class SpanLoss {
    /** Log-space stand-in for log 0 that keeps sums and products finite (0 · it = 0 in the masked terms). */
    static final float LOG_ZERO = -1e4f;

    private SpanLoss() {}

    /**
     * @param loss sum over the batch of -log p(y|x) for the examples with an answer span (a scalar)
     * @param logLikelihood per example log p(y|x) [B] (LOG_ZERO-ish where answerless)
     * @param answerless examples with no answer span in any of their passages
     */
    public record Result(NDArray loss, NDArray logLikelihood, boolean[] hasAnswer, int answerless) {}

    /**
     * @param startLp [B*n, L] log p_start over each row's tokens (row b*n + j: example b, passage j)
     * @param endLp [B*n, L]
     * @param docLogPrior [B, n] log p(z|x)
     * @param spans per row, the answer spans (positions in that row's input)
     */
    public static Result nll(NDArray startLp, NDArray endLp, NDArray docLogPrior, List<List<AnswerSpans.Span>> spans) {
        NDManager m = startLp.getManager();
        int rows = spans.size();
        int b = (int) docLogPrior.getShape().get(0),
                n = (int) docLogPrior.getShape().get(1);
        if (rows != b * n) throw new IllegalArgumentException(rows + " span lists for " + b + "x" + n + " rows");
        int k = 1;
        for (List<AnswerSpans.Span> s : spans) k = Math.max(k, s.size());
        long[] si = new long[rows * k], ei = new long[rows * k];
        float[] valid = new float[rows * k];
        boolean[] has = new boolean[b];
        for (int r = 0; r < rows; r++) {
            List<AnswerSpans.Span> s = spans.get(r);
            for (int i = 0; i < s.size(); i++) {
                si[r * k + i] = s.get(i).start();
                ei[r * k + i] = s.get(i).end();
                valid[r * k + i] = 1f;
            }
            if (!s.isEmpty()) has[r / n] = true;
        }
        Shape sh = new Shape(rows, k);
        NDArray v = m.create(valid, sh);
        NDArray spanLp = startLp.gather(m.create(si, sh), 1).add(endLp.gather(m.create(ei, sh), 1));
        spanLp = NDArrays.where(v.gt(0.5f), spanLp, m.full(sh, LOG_ZERO)); // padding slots: probability ~0
        NDArray rowLp = logSumExp(spanLp, 1).reshape(b, n); // log p(y|x,z); ~LOG_ZERO without a span
        NDArray ll = logSumExp(rowLp.add(docLogPrior), 1); // [B]
        float[] keep = new float[b];
        int answerless = 0;
        for (int i = 0; i < b; i++) {
            keep[i] = has[i] ? 1f : 0f;
            if (!has[i]) answerless++;
        }
        NDArray loss = ll.mul(m.create(keep)).sum().neg();
        return new Result(loss, ll, has, answerless);
    }

    /** log sum exp over one axis (removed), shifted by the (constant) max for stability. */
    static NDArray logSumExp(NDArray x, int axis) {
        NDArray mx = x.max(new int[] {axis}, true).stopGradient();
        return x.sub(mx).exp().sum(new int[] {axis}).log().add(mx.squeeze(axis));
    }

    /**
     * Log-softmax over the text tokens of each row: other positions (question, title, specials, padding) get LOG_ZERO.
     */
    public static NDArray maskedLogSoftmax(NDArray logits, NDArray textMask) {
        NDArray masked = NDArrays.where(textMask, logits, logits.getManager().full(logits.getShape(), LOG_ZERO));
        return masked.logSoftmax(1);
    }

    /** A boolean array of {@code shape} from a Java mask (row-major). */
    static NDArray booleanMask(NDManager m, boolean[] mask, Shape shape) {
        float[] f = new float[mask.length];
        for (int i = 0; i < f.length; i++) f[i] = mask[i] ? 1f : 0f;
        return m.create(f, shape).toType(DataType.BOOLEAN, false);
    }
}
