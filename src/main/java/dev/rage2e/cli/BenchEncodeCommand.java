package dev.rage2e.cli;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.engine.Torch;
import dev.rage2e.model.BertConfig;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.model.TextTokenizer;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code rag bench encode}: inference throughput of a BERT encoder on full batches of random tokens
 * (no padding, so every token does the work a real one does), in passages/s and GFLOP/s.
 */
@Command(
        name = "encode",
        mixinStandardHelpOptions = true,
        description = "Passages/s and GFLOP/s of an encoder on batch x seq random tokens (eval mode, pooled output).")
public final class BenchEncodeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model folder (models/NAME).")
    Path model;

    @Option(names = "--batch", defaultValue = "32", description = "Passages per batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(
            names = "--seq",
            defaultValue = "128",
            description = "Tokens per passage, [CLS] and [SEP] included (default ${DEFAULT-VALUE}).")
    int seq;

    @Option(names = "--iters", defaultValue = "5", description = "Timed batches (default ${DEFAULT-VALUE}).")
    int iters;

    @Option(names = "--warmup", defaultValue = "2", description = "Untimed batches first (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(
            names = "--profile",
            paramLabel = "FILE",
            description = "Write libtorch's profiler trace of the timed batches (Chrome trace JSON; "
                    + "bench/profile-summary.py FILE ITERS sums it per operator).")
    Path profile;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() {
        precisionOption.apply();
        if (batch <= 0 || seq < 2 || iters <= 0 || warmup < 0)
            throw new UserException("--batch, --seq (>= 2), --iters must be positive");
        try (NDManager root = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(model, root)) {
            if (seq > enc.config.maxPositionEmbeddings()) {
                throw new UserException("--seq " + seq + " exceeds the model's max_position_embeddings "
                        + enc.config.maxPositionEmbeddings());
            }
            long[][] ids = randomBatch(enc.config, batch, seq, 42);
            double[] secs = new double[iters];
            for (int i = -warmup; i < iters; i++) {
                if (i == 0 && profile != null) Torch.startProfile();
                long t0 = System.nanoTime();
                try (NDManager m = root.newSubManager()) {
                    TextTokenizer.Batch b = TextTokenizer.pad(m, ids, enc.config.padTokenId());
                    NDArray v = enc.embed(b.ids(), b.mask(), false);
                    v.toFloatArray(); // forces the computation
                }
                double s = (System.nanoTime() - t0) / 1e9;
                if (i >= 0) secs[i] = s;
                System.err.printf(
                        "rag: bench encode %s %d/%d: %.3f s%n",
                        i < 0 ? "warmup" : "batch", i < 0 ? i + warmup + 1 : i + 1, i < 0 ? warmup : iters, s);
            }
            if (profile != null) Torch.stopProfile(profile);
            ObjectNode o =
                    result("djl-pytorch", model.toString(), enc.config, batch, seq, secs, enc.bert.pooler != null);
            o.put("engine_version", Engine.getInstance().getVersion());
            o.put("cpus", Runtime.getRuntime().availableProcessors());
            dev.rage2e.engine.Roofline.report(o, o.get("gflops").asDouble());
            System.out.println(Json.write(o));
        }
        return 0;
    }

    /** [CLS] random-word-pieces [SEP] rows, identical across runtimes for a given seed. */
    public static long[][] randomBatch(BertConfig c, int batch, int seq, long seed) {
        Random r = new Random(seed);
        long[][] ids = new long[batch][seq];
        for (long[] row : ids) {
            for (int t = 0; t < seq; t++) row[t] = 1000 + r.nextInt(Math.max(1, c.vocabSize() - 1000));
            row[0] = 101;
            row[seq - 1] = 102;
        }
        return ids;
    }

    /**
     * Floating-point operations of one forward pass: 2 per weight per token for every Linear
     * (Q, K, V, attention output, intermediate, output; the pooler once per passage) plus the two
     * attention products QK^T and AV (2 * seq^2 * hidden each per layer and passage). Embedding
     * lookups, LayerNorm, softmax and GELU are memory-bound and not counted.
     */
    public static double flopsPerBatch(BertConfig c, int batch, int seq, boolean pooler) {
        double h = c.hiddenSize(), f = c.intermediateSize();
        double linearPerLayer = 4 * h * h + 2 * h * f;
        double tokens = (double) batch * seq;
        double flops = 2 * tokens * linearPerLayer * c.numHiddenLayers();
        flops += c.numHiddenLayers() * batch * 4.0 * seq * seq * h;
        if (pooler) flops += 2.0 * batch * h * h;
        return flops;
    }

    public static ObjectNode result(
            String runtime, String model, BertConfig c, int batch, int seq, double[] secs, boolean pooler) {
        double[] sorted = secs.clone();
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        double mean = Arrays.stream(secs).average().orElse(0);
        double gflop = flopsPerBatch(c, batch, seq, pooler) / 1e9;
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("bench", "encode");
        o.put("runtime", runtime);
        o.put("model", model);
        o.put("batch", batch);
        o.put("seq", seq);
        o.put("iters", secs.length);
        o.put("seconds_per_batch_median", round(median, 4));
        o.put("seconds_per_batch_mean", round(mean, 4));
        o.put("seconds_per_batch_min", round(sorted[0], 4));
        o.put("passages_per_s", round(batch / median, 2));
        o.put("tokens_per_s", round(batch * seq / median, 1));
        o.put("gflop_per_batch", round(gflop, 2));
        o.put("gflops", round(gflop / median, 2));
        return o;
    }

    private static double round(double v, int digits) {
        double p = Math.pow(10, digits);
        return Math.round(v * p) / p;
    }
}
