package dev.rage2e.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

/** Cross-entropy with ignore_index and label smoothing against a direct double-precision computation. */
class Seq2SeqLossTest {
    @Test
    void labelSmoothingAndIgnoredPositionsFollowTorch() {
        int b = 2, t = 3, v = 5;
        float[] logits = new float[b * t * v];
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < logits.length; i++) logits[i] = (float) r.nextGaussian() * 2;
        long[] labels = {1, 4, Seq2SeqLoss.IGNORE_INDEX, 0, Seq2SeqLoss.IGNORE_INDEX, 3};
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray lg = m.create(logits, new Shape(b, t, v)), lb = m.create(labels, new Shape(b, t));
            for (float eps : new float[] {0f, 0.1f, 0.3f}) {
                double sum = 0;
                int n = 0;
                for (int i = 0; i < b * t; i++) {
                    if (labels[i] == Seq2SeqLoss.IGNORE_INDEX) continue;
                    double max = Double.NEGATIVE_INFINITY, z = 0, meanNeg = 0;
                    for (int k = 0; k < v; k++) max = Math.max(max, logits[i * v + k]);
                    for (int k = 0; k < v; k++) z += Math.exp(logits[i * v + k] - max);
                    double lse = max + Math.log(z);
                    for (int k = 0; k < v; k++) meanNeg += (lse - logits[i * v + k]) / v;
                    sum += (1 - eps) * (lse - logits[i * v + (int) labels[i]]) + eps * meanNeg;
                    n++;
                }
                assertEquals(sum / n, Seq2SeqLoss.crossEntropy(lg, lb, eps).getFloat(), 1e-5, "eps " + eps);
            }
        }
    }

    @Test
    void shiftAndPaddingHelpers() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray labels = m.create(new long[] {5, 6, 2, -100, 7, 2, -100, -100}, new Shape(2, 4));
            assertArrayEquals(
                    new long[] {9, 5, 6, 2, 9, 7, 2, 1},
                    Seq2SeqLoss.shiftTokensRight(labels, 1, 9).toLongArray());
            NDArray padded = m.create(new long[] {5, 6, 0, 0}, new Shape(1, 4));
            assertArrayEquals(
                    new long[] {5, 6, -100, -100},
                    Seq2SeqLoss.ignorePadding(padded, 0).toLongArray());
        }
    }
}
