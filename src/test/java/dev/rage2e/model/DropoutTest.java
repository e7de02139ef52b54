package dev.rage2e.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class DropoutTest {
    @Test
    void keepsOneMinusPScaledAndIsSeededByTheEngine() {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape sh = new Shape(3, 1000, 333); // not a multiple of the chunk or of 4
            NDArray x = m.ones(sh);
            Engine.getInstance().setRandomSeed(7);
            float[] a = Dropout.apply(x, 0.1f, true).toFloatArray();
            Engine.getInstance().setRandomSeed(7);
            float[] b = Dropout.apply(x, 0.1f, true).toFloatArray();
            float[] c = Dropout.apply(x, 0.1f, true).toFloatArray();
            assertArrayEquals(a, b, "same engine seed, same mask");
            assertFalse(Arrays.equals(a, c), "the next draw is another mask");
            long kept = 0;
            for (float v : a) {
                assertTrue(v == 0f || Math.abs(v - 1 / 0.9f) < 1e-6, "kept values are scaled by 1/(1-p): " + v);
                if (v != 0f) kept++;
            }
            double rate = kept / (double) a.length, sd = Math.sqrt(0.9 * 0.1 / a.length);
            assertEquals(0.9, rate, 5 * sd, "keep rate");
            // neighbouring elements are independent: P(both kept) = 0.81
            long both = 0;
            for (int i = 0; i + 1 < a.length; i += 2) if (a[i] != 0 && a[i + 1] != 0) both++;
            assertEquals(0.81, both / (a.length / 2.0), 0.005);
            assertSame(x, Dropout.apply(x, 0.1f, false), "inference is the identity");
        }
    }

    @Test
    void gradientIsTheScaledMask() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(64, 50));
            x.setRequiresGradient(true);
            NDArray y;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                y = Dropout.apply(x, 0.25f, true);
                gc.backward(y.sum());
            }
            float[] g = x.getGradient().toFloatArray(), out = y.toFloatArray(), in = x.toFloatArray();
            for (int i = 0; i < g.length; i++) {
                boolean kept = g[i] != 0f;
                assertEquals(kept ? 1 / 0.75f : 0f, g[i], 1e-6);
                assertEquals(kept ? in[i] / 0.75f : 0f, out[i], 1e-5);
            }
        }
    }
}
