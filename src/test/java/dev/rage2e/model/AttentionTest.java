package dev.rage2e.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

/**
 * {@link Attention#attend} scales q instead of the scores and applies dropout with a boolean mask and 1/(1-p) on the
 * output; it must equal the paper's formula, softmax(q k^T / sqrt(d) + mask) · dropout-mask / (1-p) · v, in value and
 * in every input's gradient, for the same dropout mask.
 */
class AttentionTest {
    private static final float P = 0.25f;

    @Test
    void equalsTheFormulaForwardAndBackwardWithTheSameDropoutMask() {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape sh = new Shape(2, 3, 7, 8); // B, heads, L, D
            NDArray q = m.randomNormal(sh), k = m.randomNormal(sh), v = m.randomNormal(sh);
            // padding: the second sequence keeps its first 5 positions
            NDArray pad = m.create(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, new Shape(2, 7));
            NDArray mask = Attention.paddingMask(pad);

            Engine.getInstance().setRandomSeed(11);
            NDList fast = run(q, k, v, (a, b, c) -> Attention.attend(a, b, c, mask, P, true));
            Engine.getInstance().setRandomSeed(11); // the same mask again (its seed comes from the engine)
            NDList formula = run(q, k, v, (a, b, c) -> {
                NDArray probs = Scalars.div(a.matMul(b.transpose(0, 1, 3, 2)), (float) Math.sqrt(8))
                        .add(mask)
                        .softmax(-1);
                NDArray keep = Dropout.keepMask(m, probs.getShape(), P).toType(DataType.FLOAT32, false);
                return Scalars.mul(probs.mul(keep), 1 / (1 - P)).matMul(c);
            });
            String[] names = {"output", "dq", "dk", "dv"};
            for (int i = 0; i < names.length; i++) {
                float[] a = fast.get(i).toFloatArray(), b = formula.get(i).toFloatArray();
                double maxAbs = 0;
                for (float x : b) maxAbs = Math.max(maxAbs, Math.abs(x));
                assertTrue(maxAbs > 0.1, names[i] + " is not trivially zero");
                for (int j = 0; j < a.length; j++) assertEquals(b[j], a[j], 1e-5 * Math.max(1, maxAbs), names[i]);
            }
            // dropout really dropped something: without it the output differs
            NDArray plain = Attention.attend(q, k, v, mask, P, false);
            assertTrue(plain.sub(fast.get(0)).abs().max().getFloat() > 1e-3, "dropout changes the output");
        }
    }

    interface Attend {
        NDArray apply(NDArray q, NDArray k, NDArray v);
    }

    /** The output and the gradients of fresh copies of q, k, v (no gradient carried over between runs). */
    private static NDList run(NDArray q0, NDArray k0, NDArray v0, Attend f) {
        NDArray q = q0.duplicate(), k = k0.duplicate(), v = v0.duplicate();
        for (NDArray x : new NDArray[] {q, k, v}) x.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray out = f.apply(q, k, v);
            // a weighted sum, so the gradient of every output element differs
            NDArray w = out.getManager()
                    .arange((float) out.size())
                    .reshape(out.getShape())
                    .mul(0.01f)
                    .sin();
            gc.backward(out.mul(w).sum());
            return new NDList(
                    out.duplicate(),
                    q.getGradient().duplicate(),
                    k.getGradient().duplicate(),
                    v.getGradient().duplicate());
        }
    }
}
