package dev.rage2e.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.rage2e.testutil.Fixtures;
import dev.rage2e.weights.HostTensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** AdamW and gradient clipping against a plain double-precision transcription of torch's update rules. */
class AdamWTest {
    static final float LR = 0.05f, B1 = 0.9f, B2 = 0.99f, EPS = 1e-8f, WD = 0.1f;

    @Test
    void matchesTorchAdamWUpdateRule() {
        float[] w0 = {0.5f, -1f, 2f, 0.25f, -0.75f, 1.5f};
        float[] b0 = {0.3f, -0.2f};
        float[] cw = {1f, 2f, 0.5f, 3f, 1f, 0.1f};
        float[] cb = {2f, 1f};
        try (NDManager m = NDManager.newBaseManager()) {
            NDManager pm = m.newSubManager();
            NDArray w = pm.create(w0.clone(), new Shape(2, 3)), b = pm.create(b0.clone());
            w.setRequiresGradient(true);
            b.setRequiresGradient(true);
            Map<String, NDArray> params = new LinkedHashMap<>();
            params.put("w", w);
            params.put("b", b);
            double[] rw = toD(w0),
                    rb = toD(b0),
                    mw = new double[6],
                    vw = new double[6],
                    mb = new double[2],
                    vb = new double[2];
            AdamW opt = new AdamW(params, m.newSubManager(), B1, B2, EPS, WD);
            for (int t = 1; t <= 5; t++) {
                opt.zeroGrad();
                try (NDManager sm = m.newSubManager();
                        GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    // loss = sum(c w^2) + sum(c b^2): gradient 2 c x
                    gc.backward(w.square()
                            .mul(sm.create(cw, new Shape(2, 3)))
                            .sum()
                            .add(b.square().mul(sm.create(cb)).sum()));
                }
                opt.step(LR);
                reference(rw, mw, vw, cw, t, WD);
                reference(rb, mb, vb, cb, t, WD);
                Fixtures.assertClose(toF(rw), w.toFloatArray(), 1e-6, 1e-5, "w after step " + t);
                Fixtures.assertClose(toF(rb), b.toFloatArray(), 1e-6, 1e-5, "b after step " + t);
            }
            assertEquals(5, opt.steps());
        }
    }

    /**
     * The fused multi-tensor path against a plain-Java double AdamW on random tensors over several steps, with
     * names that take and skip weight decay, a parameter outside the loss, and against the per-op path.
     */
    @Test
    void fusedKernelMatchesPlainJavaAdamWAndThePerOpPath() {
        org.junit.jupiter.api.Assumptions.assumeTrue(
                dev.rage2e.engine.FusedAdamW.available(), "fused kernel not in this libtorch");
        String[] names = {
            "encoder.layer.0.attention.self.query.weight",
            "encoder.layer.0.attention.self.query.bias",
            "encoder.layer.0.attention.output.LayerNorm.weight",
            "decoder.final_layer_norm.weight",
            "lm_head.weight",
            "unused.weight"
        };
        long[][] shapes = {{37, 19}, {19}, {64}, {8}, {3, 5, 7}, {4}};
        java.util.Random r = new java.util.Random(7);
        float lr = 1e-2f, wd = 0.01f;
        int steps = 6;
        float[][] init = new float[names.length][];
        float[][][] grads = new float[steps][names.length][];
        for (int i = 0; i < names.length; i++) {
            int n = (int) new Shape(shapes[i]).size();
            init[i] = new float[n];
            for (int j = 0; j < n; j++) init[i][j] = (float) r.nextGaussian();
            for (int t = 0; t < steps; t++) {
                grads[t][i] = new float[n];
                // small and large
                for (int j = 0; j < n; j++) grads[t][i][j] = (float) (r.nextGaussian() * (t % 2 == 0 ? 1 : 1e-3));
            }
        }
        float[][] fused = run(names, shapes, init, grads, lr, wd, false);
        float[][] ops = run(names, shapes, init, grads, lr, wd, true);
        for (int i = 0; i < names.length; i++) {
            double[] x = toD(init[i]), mo = new double[x.length], ve = new double[x.length];
            boolean decays = AdamW.decays(names[i]);
            for (int t = 1; t <= steps; t++) {
                for (int j = 0; j < x.length; j++) {
                    // the last parameter is not in the loss: its gradient stays the zeros zeroGrad wrote (decay only,
                    // as torch with zero-filled .grad)
                    double g = names[i].startsWith("unused") ? 0 : grads[t - 1][i][j];
                    if (decays) x[j] *= 1 - lr * (double) wd;
                    mo[j] = B1 * mo[j] + (1 - B1) * g;
                    ve[j] = B2 * ve[j] + (1 - B2) * g * g;
                    double bc1 = 1 - Math.pow(B1, t), bc2 = 1 - Math.pow(B2, t);
                    x[j] -= lr / bc1 * mo[j] / (Math.sqrt(ve[j]) / Math.sqrt(bc2) + EPS);
                }
            }
            Fixtures.assertClose(toF(x), fused[i], 1e-6, 1e-5, "fused " + names[i]);
            Fixtures.assertClose(ops[i], fused[i], 1e-6, 1e-5, "fused vs per-op " + names[i]);
        }
    }

    private static float[][] run(
            String[] names, long[][] shapes, float[][] init, float[][][] grads, float lr, float wd, boolean perOp) {
        String before = System.getProperty("rag.adamw");
        if (perOp) System.setProperty("rag.adamw", "ops");
        try (NDManager m = NDManager.newBaseManager()) {
            NDManager pm = m.newSubManager();
            Map<String, NDArray> params = new LinkedHashMap<>();
            for (int i = 0; i < names.length; i++) {
                NDArray p = pm.create(init[i].clone(), new Shape(shapes[i]));
                p.setRequiresGradient(true);
                params.put(names[i], p);
            }
            AdamW opt = new AdamW(params, m.newSubManager(), B1, B2, EPS, wd);
            for (int t = 0; t < grads.length; t++) {
                opt.zeroGrad();
                try (NDManager sm = m.newSubManager();
                        GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray loss = null;
                    for (int i = 0; i < names.length - 1; i++) { // the last parameter gets no gradient
                        // d/dp = G exactly
                        NDArray term = params.get(names[i])
                                .mul(sm.create(grads[t][i], new Shape(shapes[i])))
                                .sum();
                        loss = loss == null ? term : loss.add(term);
                    }
                    gc.backward(loss);
                }
                opt.step(lr);
            }
            float[][] out = new float[names.length][];
            for (int i = 0; i < names.length; i++) out[i] = params.get(names[i]).toFloatArray();
            return out;
        } finally {
            if (before == null) System.clearProperty("rag.adamw");
            else System.setProperty("rag.adamw", before);
        }
    }

    @Test
    void stepsDoNotAccumulateArraysInLongLivedManagers() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDManager pm = m.newSubManager(), om = m.newSubManager();
            NDArray w = pm.create(new float[] {1f, 2f, 3f, 4f}, new Shape(2, 2));
            w.setRequiresGradient(true);
            AdamW opt = new AdamW(Map.of("w", w), om, 0.01f);
            int[] counts = new int[2];
            for (int t = 0; t < 6; t++) {
                opt.zeroGrad();
                try (NDManager sm = m.newSubManager();
                        GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    // the loss's arrays (receiver w) belong to the step, not to the parameters' manager
                    sm.tempAttachAll(w);
                    gc.backward(w.square().sum());
                }
                AdamW.clipGradNorm(List.of(w), om, 1f);
                opt.step(LR);
                if (t == 1)
                    counts = new int[] {
                        pm.getManagedArrays().size(), om.getManagedArrays().size()
                    };
            }
            assertEquals(counts[0], pm.getManagedArrays().size(), "arrays left in the parameters' manager");
            assertEquals(counts[1], om.getManagedArrays().size(), "arrays left in the optimiser's manager");
        }
    }

    /** torch.optim.AdamW for loss c x^2, in double. */
    static void reference(double[] x, double[] mo, double[] ve, float[] c, int t, double wd) {
        for (int i = 0; i < x.length; i++) {
            double g = 2 * c[i] * x[i];
            x[i] *= 1 - LR * wd;
            mo[i] = B1 * mo[i] + (1 - B1) * g;
            ve[i] = B2 * ve[i] + (1 - B2) * g * g;
            double bc1 = 1 - Math.pow(B1, t), bc2 = 1 - Math.pow(B2, t);
            x[i] -= LR / bc1 * mo[i] / (Math.sqrt(ve[i]) / Math.sqrt(bc2) + EPS);
        }
    }

    @Test
    void stateRoundTripContinuesIdentically() {
        float[] cw = {1f, 2f, 0.5f, 3f};
        try (NDManager m = NDManager.newBaseManager()) {
            float[][] results = new float[2][];
            Map<String, HostTensor> saved = null;
            float[] wAfter2 = null;
            for (int run = 0; run < 2; run++) {
                NDManager pm = m.newSubManager();
                NDArray w = pm.create(run == 0 ? new float[] {1f, -2f, 0.5f, 3f} : wAfter2, new Shape(2, 2));
                w.setRequiresGradient(true);
                AdamW opt = new AdamW(Map.of("w", w), m.newSubManager(), B1, B2, EPS, WD);
                if (run == 1) opt.loadState(saved, "saved state");
                for (int t = run == 0 ? 1 : 3; t <= 4; t++) {
                    opt.zeroGrad();
                    try (NDManager sm = m.newSubManager();
                            GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        gc.backward(
                                w.square().mul(sm.create(cw, new Shape(2, 2))).sum());
                    }
                    opt.step(LR);
                    if (run == 0 && t == 2) {
                        saved = opt.state();
                        wAfter2 = w.toFloatArray();
                    }
                }
                assertEquals(4, opt.steps());
                results[run] = w.toFloatArray();
                pm.close();
            }
            assertEquals(
                    0.0, Fixtures.maxAbsDiff(results[0], results[1]), "resumed run must match the uninterrupted one");
        }
    }

    @Test
    void clipsGlobalNormLikeTorch() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.create(new float[] {1f, 2f}), b = m.create(new float[] {2f});
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                // grads (3,4), (12): norm 13
                gc.backward(a.mul(m.create(new float[] {3f, 4f}))
                        .sum()
                        .add(b.mul(12f).sum()));
            }
            float norm = AdamW.clipGradNorm(List.of(a, b), m, 1f);
            assertEquals(13.0, norm, 1e-5);
            double coef = 1.0 / (13.0 + 1e-6);
            Fixtures.assertClose(
                    new float[] {(float) (3 * coef), (float) (4 * coef)},
                    a.getGradient().toFloatArray(),
                    1e-7,
                    1e-6,
                    "a grad");
            Fixtures.assertClose(
                    new float[] {(float) (12 * coef)}, b.getGradient().toFloatArray(), 1e-7, 1e-6, "b grad");
            assertEquals(1.0, AdamW.clipGradNorm(List.of(a, b), m, 5f), 1e-5, "under the limit: unchanged");
        }
    }

    static double[] toD(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    static float[] toF(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }
}
