package dev.rage2e.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * This machine's matrix-multiply rate through libtorch, in fp32 and with bf16 matmul precision: the
 * roofline every benchmark reports its share of. Measured once per (CPU, flags, intra-op threads,
 * libtorch version) and cached in {@code ~/.cache/rag-e2e/roofline.json} (or {@code -Drag.roofline.cache}),
 * because a measurement costs a few seconds of both cores.
 */
public final class Roofline {
    /** The big square product (compute-bound on any CPU) and an encoder-like one (tokens x hidden x FFN). */
    static final int[] SQUARE = {2048, 2048, 2048}, ENCODER = {4096, 384, 1536};

    public record Result(
            String key,
            double fp32Gflops,
            double bf16Gflops,
            double fp32EncoderGflops,
            double bf16EncoderGflops,
            double bf16MaxRelError,
            int threads,
            String measuredAt,
            double loadAverage) {
        /** The rate a bench runs against: the one of the precision in force. */
        public double gflopsFor(String precision) {
            return "bf16".equals(precision) ? bf16Gflops : fp32Gflops;
        }

        ObjectNode toJson() {
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("key", key);
            o.put("fp32_gflops", fp32Gflops);
            o.put("bf16_gflops", bf16Gflops);
            o.put("fp32_encoder_shape_gflops", fp32EncoderGflops);
            o.put("bf16_encoder_shape_gflops", bf16EncoderGflops);
            o.put("bf16_max_rel_error", bf16MaxRelError);
            o.put("threads", threads);
            o.put("measured_at", measuredAt);
            o.put("load_average", loadAverage);
            return o;
        }

        static Result fromJson(JsonNode o) {
            return new Result(
                    o.path("key").asText(),
                    o.path("fp32_gflops").asDouble(),
                    o.path("bf16_gflops").asDouble(),
                    o.path("fp32_encoder_shape_gflops").asDouble(),
                    o.path("bf16_encoder_shape_gflops").asDouble(),
                    o.path("bf16_max_rel_error").asDouble(),
                    o.path("threads").asInt(),
                    o.path("measured_at").asText(),
                    o.path("load_average").asDouble(Double.NaN));
        }
    }

    private Roofline() {}

    static Path cacheFile() {
        String p = System.getProperty("rag.roofline.cache");
        if (p != null) return Path.of(p);
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("rag-e2e").resolve("roofline.json");
    }

    /** What a measurement depends on. */
    static String key() {
        ai.djl.engine.Engine e = ai.djl.engine.Engine.getEngine("PyTorch");
        CpuFlags c = CpuFlags.read();
        return c.model() + " | " + String.join(",", c.relevant()) + " | threads " + JniUtils.getNumThreads() + " | "
                + "libtorch "
                + e.getVersion();
    }

    /** The cached result for this machine, or a fresh measurement (then cached); {@code force} always measures. */
    public static synchronized Result cachedOrMeasure(boolean force, java.io.PrintStream progress) {
        String key = key();
        Path f = cacheFile();
        ObjectNode all = Json.MAPPER.createObjectNode();
        try {
            if (Files.exists(f)) {
                JsonNode n = Json.MAPPER.readTree(f.toFile());
                if (n instanceof ObjectNode on) all = on;
            }
        } catch (IOException e) {
            // a corrupt cache is remeasured and overwritten
        }
        if (!force && all.has(key)) return Result.fromJson(all.get(key));
        Result r = measure(key, progress);
        int cores = Runtime.getRuntime().availableProcessors();
        if (r.loadAverage() > cores && progress != null) {
            // a peak measured while other jobs run is low; it is still cached (benches need one) but says so
            progress.printf(
                    Locale.ROOT,
                    "rag: warning: load average %.1f on %d cores while measuring; rerun `rag "
                            + "bench roofline --force` "
                            + "on an idle machine%n",
                    r.loadAverage(),
                    cores);
        }
        all.set(key, r.toJson());
        try {
            Files.createDirectories(f.getParent());
            AtomicFiles.writeString(f, Json.write(all));
        } catch (IOException | RuntimeException e) {
            if (progress != null) progress.println("rag: cannot cache the roofline in " + f + ": " + e.getMessage());
        }
        return r;
    }

    /** The cached result or null (benches report against it without paying for a measurement). */
    public static Result cached() {
        try {
            Path f = cacheFile();
            if (!Files.exists(f)) return null;
            JsonNode n = Json.MAPPER.readTree(f.toFile()).get(key());
            return n == null ? null : Result.fromJson(n);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    static Result measure(String key, java.io.PrintStream progress) {
        int before = Precision.matmulPrecision();
        try (NDManager m = NDManager.newBaseManager()) {
            // fp32 and bf16 alternate over rounds, best of each kept: drift (other jobs, clocks) hits both alike
            double fp32 = 0, fp32e = 0, bf16 = 0, bf16e = 0;
            for (int round = 0; round < 2; round++) {
                Precision.setMatmulPrecision(Precision.HIGHEST);
                fp32 = Math.max(fp32, gflops(m, SQUARE, progress, "fp32 2048^3"));
                fp32e = Math.max(fp32e, gflops(m, ENCODER, progress, "fp32 4096x384x1536"));
                Precision.setMatmulPrecision(Precision.MEDIUM);
                bf16 = Math.max(bf16, gflops(m, SQUARE, progress, "bf16-precision 2048^3"));
                bf16e = Math.max(bf16e, gflops(m, ENCODER, progress, "bf16-precision 4096x384x1536"));
            }
            double err = bf16Error(m);
            return new Result(
                    key,
                    round(fp32),
                    round(bf16),
                    round(fp32e),
                    round(bf16e),
                    err,
                    JniUtils.getNumThreads(),
                    java.time.Instant.now().toString(),
                    loadAverage());
        } finally {
            Precision.setMatmulPrecision(before);
        }
    }

    /** Best of repeated products of [m,k] x [k,n] over at least ~0.6 s, after a warm-up product. */
    private static double gflops(NDManager root, int[] mkn, java.io.PrintStream progress, String what) {
        try (NDManager m = root.newSubManager()) {
            NDArray a = m.randomNormal(new Shape(mkn[0], mkn[1]));
            NDArray b = m.randomNormal(new Shape(mkn[1], mkn[2]));
            double flop = 2.0 * mkn[0] * mkn[1] * mkn[2];
            java.util.List<Double> times = timings(i -> a.matMul(b), 3);
            double g = flop / times.get(0) / 1e9;
            if (progress != null)
                progress.printf(Locale.ROOT, "rag: roofline %s: %.1f GFLOP/s (best of %d)%n", what, g, times.size());
            return g;
        }
    }

    /**
     * One product shape as a step runs it: {@code MxKxN} is [M,K] x [K,N]; {@code transposedA} makes A a transposed
     * view of a [K,M] array (how autograd forms a weight gradient, grad_out^T x input); {@code transposedB} makes B one
     * of an [N,K] array (a linear layer's forward, input x weight^T); {@code linear} runs the forward of a linear layer
     * as the models do (libtorch's {@code linear}, input [16, M/16, K], weight [N, K], bias [N]); {@code cold} cycles through
     * enough distinct operand pairs (>= 256 MiB) that each product starts with its operands out of cache, as in a
     * training step where the activations were written long before the backward pass reads them.
     */
    public record ShapeCase(
            int m, int k, int n, boolean transposedA, boolean transposedB, boolean linear, boolean cold) {
        /** Parses {@code MxKxN[:t][:tb][:linear][:cold]}, e.g. {@code 384x3056x384:t:cold}, {@code 3056x384x1536:tb}. */
        public static ShapeCase parse(String spec) {
            String[] parts = spec.trim().split(":");
            String[] d = parts[0].split("x");
            if (d.length != 3)
                throw new dev.rage2e.util.UserException(
                        "shape '" + spec + "': expected MxKxN[:t][:tb][:linear][:cold]");
            boolean t = false, tb = false, linear = false, cold = false;
            for (int i = 1; i < parts.length; i++) {
                switch (parts[i]) {
                    case "t" -> t = true;
                    case "tb" -> tb = true;
                    case "linear" -> linear = true;
                    case "cold" -> cold = true;
                    default ->
                        throw new dev.rage2e.util.UserException(
                                "shape '" + spec + "': unknown flag '" + parts[i] + "' (t, tb, linear, cold)");
                }
            }
            if (linear && (t || tb))
                throw new dev.rage2e.util.UserException(
                        "shape '" + spec + "': :linear lays out its own operands; it takes no :t or :tb");
            try {
                return new ShapeCase(
                        Integer.parseInt(d[0]), Integer.parseInt(d[1]), Integer.parseInt(d[2]), t, tb, linear, cold);
            } catch (NumberFormatException e) {
                throw new dev.rage2e.util.UserException(
                        "shape '" + spec + "': expected MxKxN[:t][:tb][:linear][:cold] with integers");
            }
        }

        @Override
        public String toString() {
            return m + "x" + k + "x" + n + (transposedA ? ":t" : "") + (transposedB ? ":tb" : "")
                    + (linear ? ":linear" : "") + (cold ? ":cold" : "");
        }
    }

    /**
     * Seconds of each call of {@code product} (call i gets i), sorted, after one unmeasured warm-up call: at least
     * {@code minReps} calls and at least ~0.6 s in all. Products are eager on CPU: a call returns when it is done.
     */
    private static java.util.List<Double> timings(java.util.function.IntFunction<NDArray> product, int minReps) {
        product.apply(0).close();
        java.util.List<Double> times = new java.util.ArrayList<>();
        double total = 0;
        for (int i = 0; total < 0.6 || times.size() < minReps; i++) {
            long t0 = System.nanoTime();
            NDArray out = product.apply(i);
            double s = (System.nanoTime() - t0) / 1e9;
            out.close();
            times.add(s);
            total += s;
        }
        java.util.Collections.sort(times);
        return times;
    }

    /** GFLOP/s of one shape case in the precision in force: median over >= 0.6 s of products (after a warm-up). */
    public static double shapeGflops(ShapeCase c) {
        long bytesPerPair = 4L * ((long) c.m() * c.k() + (long) c.k() * c.n());
        int pairs = c.cold() ? (int) Math.max(2, Math.min(4096, (256L << 20) / bytesPerPair)) : 1;
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray[] as = new NDArray[pairs], bs = new NDArray[pairs];
            NDArray bias = m.randomNormal(new Shape(c.n()));
            int rows = c.m() % 16 == 0 ? 16 : 1;
            java.util.function.BiFunction<NDArray, NDArray, NDArray> product = c.linear()
                    ? (x, w) -> ai.djl.nn.core.Linear.linear(x, w, bias).singletonOrThrow()
                    : NDArray::matMul;
            for (int i = 0; i < pairs; i++) {
                if (c.linear()) { // x [16, M/16, K], weight [N, K]
                    as[i] = m.randomNormal(new Shape(rows, c.m() / rows, c.k()));
                    bs[i] = m.randomNormal(new Shape(c.n(), c.k()));
                    continue;
                }
                as[i] = c.transposedA()
                        ? m.randomNormal(new Shape(c.k(), c.m())).transpose()
                        : m.randomNormal(new Shape(c.m(), c.k()));
                bs[i] = c.transposedB()
                        ? m.randomNormal(new Shape(c.n(), c.k())).transpose()
                        : m.randomNormal(new Shape(c.k(), c.n()));
            }
            java.util.List<Double> times = timings(i -> product.apply(as[i % pairs], bs[i % pairs]), 5);
            return 2.0 * c.m() * c.k() * c.n() / times.get(times.size() / 2) / 1e9;
        }
    }

    /** The 1-minute load average (NaN where /proc/loadavg is absent). */
    static double loadAverage() {
        try {
            return Double.parseDouble(
                    Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** Max |bf16-precision - fp32| / max |fp32| over a 512^3 product (what "medium" costs in accuracy). */
    private static double bf16Error(NDManager root) {
        try (NDManager m = root.newSubManager()) {
            NDArray a = m.randomNormal(new Shape(512, 512));
            NDArray b = m.randomNormal(new Shape(512, 512));
            Precision.setMatmulPrecision(Precision.MEDIUM);
            NDArray lo = a.matMul(b);
            Precision.setMatmulPrecision(Precision.HIGHEST);
            NDArray hi = a.matMul(b);
            double maxDiff = lo.sub(hi).abs().max().getFloat();
            double scale = hi.abs().max().getFloat();
            return maxDiff / scale;
        }
    }

    /**
     * Adds {@code roofline} (share of the measured rate for the precision in
     * force, precision, CPU flags) to a bench result.
     */
    public static void report(ObjectNode o, double gflops) {
        Precision.Decision d = Precision.current();
        ObjectNode r = o.putObject("roofline");
        r.set("precision", d.toJson());
        Result rf = cached();
        if (rf == null) {
            r.put("note", "no measured roofline cached for this machine: run `rag bench roofline` once");
            return;
        }
        double peak = rf.gflopsFor(d.used());
        r.put("matmul_gflops", peak);
        r.put("fp32_gflops", rf.fp32Gflops());
        r.put("bf16_gflops", rf.bf16Gflops());
        if (!Double.isNaN(gflops)) {
            r.put("gflops", round(gflops));
            r.put("share", Math.round(gflops / peak * 1000) / 1000.0);
        }
        r.put("measured_at", rf.measuredAt());
        r.put("roofline_load_average", rf.loadAverage());
        r.put("load_average", loadAverage());
    }

    private static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }
}
