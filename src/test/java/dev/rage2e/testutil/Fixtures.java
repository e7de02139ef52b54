package dev.rage2e.testutil;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.util.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Locates {@code ../shared} (fixtures and data) and reads the fixture tensor convention. */
public final class Fixtures {
    private Fixtures() {}

    /** The shared folder, or a skipped test with a message when it is absent. */
    public static Path shared() {
        for (Path p : new Path[] {Path.of("../shared"), Path.of("shared")}) {
            if (Files.isDirectory(p.resolve("fixtures")) || Files.isDirectory(p.resolve("data")))
                return p.toAbsolutePath().normalize();
        }
        Assumptions.abort("../shared is absent: skipping tests that need shared fixtures/data");
        return null;
    }

    public static Path hf(String name) {
        Path p = shared().resolve("fixtures/hf").resolve(name);
        Assumptions.assumeTrue(Files.isDirectory(p), "fixture " + p + " is absent");
        return p;
    }

    public static Path data(String rel) {
        Path p = shared().resolve("data").resolve(rel);
        Assumptions.assumeTrue(Files.exists(p), "data file " + p + " is absent");
        return p;
    }

    public static JsonNode json(Path p) {
        return Json.read(p);
    }

    /** A fixture tensor {shape, dtype, data} as floats (parsed as float32, as the README asks). */
    public static float[] floats(JsonNode t) {
        JsonNode d = t.get("data");
        float[] out = new float[d.size()];
        for (int i = 0; i < out.length; i++) out[i] = Float.parseFloat(d.get(i).asText());
        return out;
    }

    public static long[] longs(JsonNode t) {
        JsonNode d = t.get("data");
        long[] out = new long[d.size()];
        for (int i = 0; i < out.length; i++) out[i] = d.get(i).asLong();
        return out;
    }

    public static long[] shape(JsonNode t) {
        JsonNode s = t.get("shape");
        long[] out = new long[s.size()];
        for (int i = 0; i < out.length; i++) out[i] = s.get(i).asLong();
        return out;
    }

    /** Max of |a-b| - tol(b) over elements; <= 0 means within |a-b| <= atol + rtol*|b|. */
    public static void assertClose(float[] expected, float[] actual, double atol, double rtol, String what) {
        if (expected.length != actual.length) {
            throw new AssertionError(what + ": length " + actual.length + " != expected " + expected.length);
        }
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs((double) expected[i] - actual[i]);
            double excess = diff - (atol + rtol * Math.abs(expected[i]));
            if (!(excess <= 0) && (at < 0 || excess > worst || Double.isNaN(diff))) {
                worst = excess;
                at = i;
            }
        }
        if (at >= 0) {
            throw new AssertionError(what + ": element " + at + " = " + actual[at] + ", expected " + expected[at]
                    + " (diff " + Math.abs(expected[at] - actual[at]) + ")");
        }
    }

    public static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }
}
