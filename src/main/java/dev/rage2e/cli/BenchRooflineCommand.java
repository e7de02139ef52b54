package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.engine.CpuFlags;
import dev.rage2e.engine.Precision;
import dev.rage2e.engine.Roofline;
import dev.rage2e.util.Json;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rag bench roofline}: this machine's fp32 and bf16-precision matmul GFLOP/s, measured once and cached. */
@Command(
        name = "roofline",
        mixinStandardHelpOptions = true,
        description = {
            "fp32 and bf16-precision matmul GFLOP/s through libtorch (2048^3 and 4096x384x1536).",
            "Measured once per CPU/threads/libtorch and cached (~/.cache/rag-e2e/roofline.json); the other benches "
                    + "report their share of it."
        })
public final class BenchRooflineCommand implements Callable<Integer> {
    @Option(names = "--force", description = "Measure again even when a cached result exists.")
    boolean force;

    @Option(
            names = "--shape",
            split = ",",
            paramLabel = "MxKxN[:t][:tb][:linear][:cold]",
            description = {
                "Also measure these products ([M,K] x [K,N]) in the precision in force, as a step runs them: "
                        + ":t makes A a transposed view (a weight gradient, grad_out^T x input), "
                        + ":tb makes B one (input x weight^T), :linear runs a linear layer's forward as the models do "
                        + "(libtorch linear, [16, M/16, K] input, bias); :cold cycles through 256 MiB of "
                        + "operand pairs so each product reads them from memory.",
                "e.g. --shape 3056x384x1536:tb,384x3056x384:t,384x3056x384:t:cold"
            })
    java.util.List<String> shapes = java.util.List.of();

    @Override
    public Integer call() {
        Roofline.Result r = Roofline.cachedOrMeasure(force, System.err);
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("bench", "roofline");
        o.put("fp32_gflops", r.fp32Gflops());
        o.put("bf16_gflops", r.bf16Gflops());
        o.put("bf16_over_fp32", Math.round(r.bf16Gflops() / r.fp32Gflops() * 1000) / 1000.0);
        o.put("fp32_encoder_shape_gflops", r.fp32EncoderGflops());
        o.put("bf16_encoder_shape_gflops", r.bf16EncoderGflops());
        o.put("bf16_max_rel_error", r.bf16MaxRelError());
        o.put("threads", r.threads());
        o.put("measured_at", r.measuredAt());
        o.put("load_average_when_measured", r.loadAverage());
        o.put("key", r.key());
        CpuFlags c = CpuFlags.read();
        o.put("cpu", c.model());
        o.set("cpu_flags", Json.MAPPER.valueToTree(c.relevant()));
        o.put("auto_chooses", Precision.apply(Precision.Setting.AUTO).used());
        o.put("auto_reason", Precision.current().reason());
        if (!shapes.isEmpty()) {
            com.fasterxml.jackson.databind.node.ArrayNode a = o.putArray("shapes");
            double peak = r.gflopsFor(Precision.current().used());
            for (String spec : shapes) {
                Roofline.ShapeCase sc = Roofline.ShapeCase.parse(spec);
                double g = Roofline.shapeGflops(sc);
                System.err.printf(
                        java.util.Locale.ROOT, "rag: %-22s %7.1f GFLOP/s (%.2f of the roofline)%n", sc, g, g / peak);
                ObjectNode s = a.addObject();
                s.put("shape", sc.toString());
                s.put("gflops", Math.round(g * 10) / 10.0);
                s.put("share", Math.round(g / peak * 1000) / 1000.0);
            }
        }
        System.out.println(Json.write(o));
        return 0;
    }
}
