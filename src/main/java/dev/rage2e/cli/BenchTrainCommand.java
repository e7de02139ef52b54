package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.engine.Torch;
import dev.rage2e.model.BertConfig;
import dev.rage2e.model.Seq2SeqFlops;
import dev.rage2e.rag.RagModel;
import dev.rage2e.run.TrainingRun;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.train.Trainer;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code rag bench train}: seconds per training step split into question encoding, retrieval, passage
 * re-encoding (end2end), generator forward, backward and optimizer, and the fraction of the fp32 matmul
 * rate reached. FLOPs are counted at the configured maximum lengths (questions, generator inputs, targets
 * and passages padded to them), so the fraction is an upper bound on useful work.
 */
@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = "Training-loop benchmark: runs --warmup + --steps optimizer steps of `rag train` (same "
                + "flags) in a temporary "
                + "run folder and prints the per-step time split and GFLOP/s as JSON.")
public final class BenchTrainCommand implements Callable<Integer> {
    @Option(names = "--warmup", defaultValue = "1", description = "Unmeasured steps first (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--steps", defaultValue = "3", description = "Measured steps (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(
            names = "--profile",
            paramLabel = "FILE",
            description = "Write libtorch's profiler trace of the "
                    + "measured steps "
                    + "(Chrome trace JSON; bench/profile-summary.py sums it per operator).")
    Path profile;

    @Mixin
    TrainConfig cfg;

    @Override
    public Integer call() throws Exception {
        cfg.maxSteps = warmup + steps + 1; // one more than run, so no final checkpoint lands in the measured time
        cfg.evalQuestions = 0;
        cfg.logEvery = 0;
        // the background refresh is benchmarked by rag bench encode
        cfg.indexingFreq = Math.max(cfg.indexingFreq, cfg.maxSteps + 1);
        Path dir = Files.createTempDirectory("rag-bench-train");
        try (TrainingRun run = TrainingRun.open(cfg, dir.resolve("run"), false)) {
            Trainer t = run.trainer();
            t.run(warmup);
            RagModel.Timings a = copy(t.timings());
            double b0 = t.backwardSeconds(), o0 = t.optimizerSeconds();
            if (profile != null) Torch.startProfile();
            long w0 = System.nanoTime();
            t.run(warmup + steps);
            long w1 = System.nanoTime();
            if (profile != null) Torch.stopProfile(profile);
            double wall = (w1 - w0) / 1e9 / steps;
            RagModel.Timings z = t.timings();
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("bench", "train");
            o.put("mode", cfg.mode.label());
            o.put("batch_size", cfg.batchSize);
            o.put("n_docs", cfg.nDocs);
            o.put("steps", steps);
            ObjectNode s = o.putObject("seconds_per_step");
            double q = (z.questionNs - a.questionNs) / 1e9 / steps, r = (z.retrievalNs - a.retrievalNs) / 1e9 / steps;
            double p = (z.passageNs - a.passageNs) / 1e9 / steps, g = (z.generatorNs - a.generatorNs) / 1e9 / steps;
            double bw = (t.backwardSeconds() - b0) / steps, opt = (t.optimizerSeconds() - o0) / steps;
            s.put("question_encoding", round(q));
            s.put("retrieval", round(r));
            s.put("passage_encoding", round(p));
            s.put("generator_forward", round(g));
            s.put("backward", round(bw));
            s.put("optimizer", round(opt));
            s.put("other", round(wall - q - r - p - g - bw - opt));
            s.put("total", round(wall));
            double flops = stepFlops(run.model());
            o.put("gflop_per_step", round(flops / 1e9));
            o.put("gflops", round(flops / 1e9 / wall));
            dev.rage2e.engine.Roofline.report(o, flops / 1e9 / wall);
            o.put(
                    "flops_note",
                    "matmuls at maximum lengths, backward = 2x forward; passage encoding counted in end2end only");
            System.out.println(Json.write(o));
        } finally {
            AtomicFiles.deleteTree(dir);
        }
        return 0;
    }

    private double stepFlops(RagModel rag) {
        int b = cfg.batchSize * cfg.gradAccum;
        double f = cfg.readerOnly ? 0 : 3 * encoderFlops(rag.questionEncoder.config, cfg.maxQuestionLength) * b;
        if (cfg.end2end())
            f += 3
                    * encoderFlops(rag.contextEncoder.config, Math.min(256, rag.contextEncoder.settings.maxLength()))
                    * b
                    * cfg.nDocs;
        int rows = cfg.readerOnly ? b : b * cfg.nDocs; // the reader stage reads one gold passage per question
        if (rag.spanReader != null) f += 3 * encoderFlops(rag.spanReader.model.config, cfg.maxCombinedLength) * rows;
        else f += Seq2SeqFlops.of(rag.generator).trainStep(cfg.maxCombinedLength, cfg.maxTargetLength) * rows;
        return f;
    }

    private static double encoderFlops(BertConfig c, int seq) {
        return BenchEncodeCommand.flopsPerBatch(c, 1, seq, false);
    }

    private static RagModel.Timings copy(RagModel.Timings t) {
        RagModel.Timings c = new RagModel.Timings();
        c.questionNs = t.questionNs;
        c.retrievalNs = t.retrievalNs;
        c.passageNs = t.passageNs;
        c.generatorNs = t.generatorNs;
        return c;
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
