package dev.rage2e.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The span reader's marginal likelihood against a plain-Java double-precision computation of the same sums:
 * spans of the same answer twice in one passage, the answer in several passages, and an example with the answer in
 * none of its passages (no term, no gradient). Gradients reach the doc scores (so the question and context encoders)
 * and the start/end logits (so the reader).
 */
class SpanLossTest {
    @Test
    void matchesPlainJavaSumsAndGradientsFlowWhereTheyShould() {
        int b = 3, n = 2, len = 9;
        Random rnd = new Random(5);
        float[] start = new float[b * n * len], end = new float[b * n * len], scores = new float[b * n];
        for (int i = 0; i < start.length; i++) {
            start[i] = (float) rnd.nextGaussian() * 2;
            end[i] = (float) rnd.nextGaussian() * 2;
        }
        for (int i = 0; i < scores.length; i++) scores[i] = (float) rnd.nextGaussian();
        boolean[] text = new boolean[b * n * len];
        // tokens 2..7 are text
        for (int r = 0; r < b * n; r++) for (int t = 2; t < len - 1; t++) text[r * len + t] = true;
        List<List<AnswerSpans.Span>> spans = new ArrayList<>();
        spans.add(List.of(new AnswerSpans.Span(2, 3), new AnswerSpans.Span(5, 6))); // ex 0, passage 0: the answer twice
        spans.add(List.of(new AnswerSpans.Span(4, 4))); // ex 0, passage 1: once more
        spans.add(List.of()); // ex 1, passage 0: absent
        spans.add(List.of(new AnswerSpans.Span(3, 7))); // ex 1, passage 1
        spans.add(List.of()); // ex 2: in neither passage
        spans.add(List.of());

        double[] expected = reference(start, end, scores, text, spans, b, n, len);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray s = m.create(start, new Shape(b * n, len)), e = m.create(end, new Shape(b * n, len));
            NDArray d = m.create(scores, new Shape(b, n));
            s.setRequiresGradient(true);
            e.setRequiresGradient(true);
            d.setRequiresGradient(true);
            NDArray mask = SpanLoss.booleanMask(m, text, new Shape(b * n, len));
            SpanLoss.Result r;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                r = SpanLoss.nll(
                        SpanLoss.maskedLogSoftmax(s, mask), SpanLoss.maskedLogSoftmax(e, mask), d.logSoftmax(1), spans);
                gc.backward(r.loss());
            }
            float[] ll = r.logLikelihood().toFloatArray();
            assertEquals(expected[0], ll[0], 1e-4);
            assertEquals(expected[1], ll[1], 1e-4);
            assertEquals(-(expected[0] + expected[1]), r.loss().getFloat(), 1e-4);
            assertEquals(1, r.answerless());
            assertArrayEquals(new boolean[] {true, true, false}, r.hasAnswer());

            float[] dg = d.getGradient().toFloatArray(), sg = s.getGradient().toFloatArray();
            assertTrue(
                    Math.abs(dg[0]) > 1e-4 && Math.abs(dg[2]) > 1e-4, "doc scores of answered examples get gradient");
            assertEquals(0f, dg[4], 0f, "no gradient for the answerless example");
            assertEquals(0f, dg[5], 0f);
            assertTrue(Math.abs(sg[2]) > 1e-4, "the reader's start logits get gradient");
            for (int t = 0; t < len; t++) assertEquals(0f, sg[4 * len + t], 0f, "answerless rows: no reader gradient");
            assertEquals(0f, sg[0], 1e-6f, "masked positions ([CLS]) get no gradient");
            // gradient of the loss w.r.t. doc score of (ex 0, passage 0) equals p(z|x) - p(z|x,y), checked numerically
            double eps = 1e-3;
            float[] plus = scores.clone();
            plus[0] += eps;
            float[] minus = scores.clone();
            minus[0] -= eps;
            double num = -(reference(start, end, plus, text, spans, b, n, len)[0]
                            - reference(start, end, minus, text, spans, b, n, len)[0])
                    / (2 * eps);
            assertEquals(num, dg[0], 1e-3);
        }
    }

    /** log p(y|x) per example in doubles, straight from the definition (NaN-free: absent = -inf). */
    static double[] reference(
            float[] start,
            float[] end,
            float[] scores,
            boolean[] text,
            List<List<AnswerSpans.Span>> spans,
            int b,
            int n,
            int len) {
        double[] out = new double[b];
        for (int ex = 0; ex < b; ex++) {
            double[] prior = softmax(scores, ex * n, n);
            double p = 0;
            for (int j = 0; j < n; j++) {
                int r = ex * n + j;
                double[] ps = softmaxMasked(start, text, r * len, len), pe = softmaxMasked(end, text, r * len, len);
                double py = 0;
                for (AnswerSpans.Span sp : spans.get(r)) py += ps[sp.start()] * pe[sp.end()];
                p += prior[j] * py;
            }
            out[ex] = Math.log(p);
        }
        return out;
    }

    static double[] softmax(float[] x, int off, int n) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        double[] p = new double[n];
        for (int i = 0; i < n; i++) sum += p[i] = Math.exp(x[off + i] - max);
        for (int i = 0; i < n; i++) p[i] /= sum;
        return p;
    }

    static double[] softmaxMasked(float[] x, boolean[] keep, int off, int n) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 0; i < n; i++) if (keep[off + i]) max = Math.max(max, x[off + i]);
        double[] p = new double[n];
        for (int i = 0; i < n; i++) if (keep[off + i]) sum += p[i] = Math.exp(x[off + i] - max);
        for (int i = 0; i < n; i++) p[i] /= sum;
        return p;
    }
}
