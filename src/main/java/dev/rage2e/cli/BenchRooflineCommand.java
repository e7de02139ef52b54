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
        System.out.println(Json.write(o));
        return 0;
    }
}
