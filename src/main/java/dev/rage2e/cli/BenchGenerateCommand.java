package dev.rage2e.cli;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.engine.Torch;
import dev.rage2e.model.Bert2BertWarmStart;
import dev.rage2e.model.BertConfig;
import dev.rage2e.model.EncoderDecoderConfig;
import dev.rage2e.model.EncoderDecoderModel;
import dev.rage2e.model.GenerationConfig;
import dev.rage2e.model.ParamStore;
import dev.rage2e.model.Seq2SeqFlops;
import dev.rage2e.model.Seq2SeqLoss;
import dev.rage2e.model.Seq2SeqModel;
import dev.rage2e.model.Seq2SeqModels;
import dev.rage2e.model.generate.Generation;
import dev.rage2e.train.AdamW;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code rag bench generate}: generator throughput — encoding, greedy and beam-search decoding with the
 * KV cache, and a full training step (forward, backward, clipping, AdamW) — in tokens/s and as a fraction
 * of the fp32 matmul rate. Without {@code --model} a randomly initialised BERT2BERT of a standard size is
 * built in memory (throughput does not depend on the weights; EOS is blocked so every row runs to
 * max_length).
 */
@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        description = "Generator throughput: encode, greedy and beam decoding (KV cache), training step; JSON "
                + "lines on stdout.")
public final class BenchGenerateCommand implements Callable<Integer> {
    @Option(names = "--model", description = "Generator directory; default: a random BERT2BERT of --size.")
    Path model;

    @Option(
            names = "--size",
            defaultValue = "small",
            description = "Random model size without --model: tiny (h128 "
                    + "L2), small "
                    + "(e5-small-v2 shape: h384 L12), base (bert-base shape: h768 L12) (default ${DEFAULT-VALUE}).")
    String size;

    @Option(names = "--decoder-layers", description = "Decoder depth of the random model (default: the encoder's).")
    Integer decoderLayers;

    @Option(
            names = "--batch",
            defaultValue = "8",
            description = "Inputs per generation batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(
            names = "--source-len",
            defaultValue = "128",
            description = "Encoder tokens per input (default ${DEFAULT-VALUE}).")
    int sourceLen;

    @Option(
            names = "--max-length",
            defaultValue = "32",
            description = "Output length incl. start token (default ${DEFAULT-VALUE}).")
    int maxLength;

    @Option(
            names = "--beams",
            defaultValue = "4",
            description = "Beam width for the beam run (default ${DEFAULT-VALUE}).")
    int beams;

    @Option(
            names = "--train-batch",
            defaultValue = "8",
            description = "Examples per training step (default ${DEFAULT-VALUE}).")
    int trainBatch;

    @Option(
            names = "--target-len",
            defaultValue = "16",
            description = "Target tokens per training example (default ${DEFAULT-VALUE}).")
    int targetLen;

    @Option(
            names = "--iters",
            defaultValue = "3",
            description = "Timed repetitions of each measurement (default ${DEFAULT-VALUE}).")
    int iters;

    @Option(names = "--threads", description = "libtorch intra-op threads (default: the engine's).")
    Integer threads;

    @Option(names = "--no-cache", description = "Also time greedy decoding that recomputes the prefix each step.")
    boolean noCache;

    @Option(names = "--skip-train", description = "Skip the training-step measurement.")
    boolean skipTrain;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        if (batch < 1 || sourceLen < 2 || maxLength < 2 || beams < 1 || trainBatch < 1 || targetLen < 2 || iters < 1) {
            throw new UserException("sizes must be positive (source/target/max length >= 2)");
        }
        if (threads != null) Torch.setIntraOpThreads(threads);
        try (NDManager root = NDManager.newBaseManager();
                Seq2SeqModel m = model != null ? Seq2SeqModels.load(model, root) : randomModel(root)) {
            Seq2SeqFlops flops = Seq2SeqFlops.of(m);
            if (sourceLen > Seq2SeqModels.maxEncoderPositions(m) || maxLength > Seq2SeqModels.maxDecoderPositions(m)) {
                throw new UserException("--source-len/--max-length exceed the model's positions");
            }
            long params = 0;
            for (NDArray p : m.params().parameters().values()) params += p.size();
            ObjectNode head = line("setup");
            head.put("model", model != null ? model.toString() : "random " + size);
            head.put("parameters", params);
            head.put("hidden", flops.hidden());
            head.put("encoder_layers", flops.encoderLayers());
            head.put("decoder_layers", flops.decoderLayers());
            head.put("vocab", flops.vocab());
            head.put("threads", Torch.intraOpThreads());
            head.put("omp_wait_policy", String.valueOf(System.getenv("OMP_WAIT_POLICY")));
            head.put(
                    "load_average", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
            System.out.println(Json.write(head));

            long[][] src = randomIds(batch, sourceLen, m.vocabSize(), 1);
            // encode
            double[] t = time(() -> {
                try (NDManager sm = root.newSubManager()) {
                    var b = dev.rage2e.model.TextTokenizer.pad(sm, src, m.padTokenId());
                    m.encode(b.ids(), b.mask(), false).toFloatArray();
                }
            });
            report("encode", t, (double) batch * sourceLen, batch * flops.encode(sourceLen), "input_tokens_per_s");

            // EOS blocked until max_length so every row generates max_length - 1 tokens
            GenerationConfig base = m.generationConfig()
                    .withMaxLength(maxLength)
                    .withMinLength(maxLength)
                    .withForcedEosTokenId(-1)
                    .withForcedBosTokenId(-1)
                    .withNoRepeatNgramSize(0);
            long generated = (long) batch * (maxLength - 1);
            for (int nb : beams > 1 ? new int[] {1, beams} : new int[] {1}) {
                GenerationConfig cfg = base.withNumBeams(nb);
                Generation.generate(m, src, cfg.withMaxLength(3).withMinLength(3), root); // warm-up
                double[] g = time(() -> Generation.generate(m, src, cfg, root));
                // cross-attention keys/values are computed once per input and shared by its beams
                double f = batch * flops.encode(sourceLen) + (double) batch * flops.crossKeysValues(sourceLen);
                for (int s = 0; s < maxLength - 1; s++) f += (double) batch * nb * flops.step(s, sourceLen);
                ObjectNode o = report(nb == 1 ? "greedy" : "beam", g, generated, f, "output_tokens_per_s");
                o.put("num_beams", nb);
                o.put("batch", batch);
                o.put("source_len", sourceLen);
                o.put("max_length", maxLength);
                o.put("decoded_rows_x_tokens_per_s", generated * nb / g[0]);
                System.out.println(Json.write(o));
            }
            if (noCache) {
                GenerationConfig cfg = base.withNumBeams(1).withUseCache(false);
                double[] g = time(() -> Generation.generate(m, src, cfg, root));
                ObjectNode o = report("greedy_no_cache", g, generated, Double.NaN, "output_tokens_per_s");
                System.out.println(Json.write(o));
            }
            if (!skipTrain) trainStep(m, flops, root);
        }
        return 0;
    }

    private void trainStep(Seq2SeqModel m, Seq2SeqFlops flops, NDManager root) {
        long[][] src = randomIds(trainBatch, sourceLen, m.vocabSize(), 2);
        long[][] tgt = randomIds(trainBatch, targetLen + 1, m.vocabSize(), 3);
        long[] decIn = new long[trainBatch * targetLen], labels = new long[trainBatch * targetLen];
        for (int i = 0; i < trainBatch; i++) {
            System.arraycopy(tgt[i], 0, decIn, i * targetLen, targetLen);
            System.arraycopy(tgt[i], 1, labels, i * targetLen, targetLen);
        }
        m.params().setRequiresGradient(true);
        try (NDManager optManager = root.newSubManager()) {
            AdamW opt = new AdamW(m.params().parameters(), optManager, 0.01f);
            double[] fwd = new double[iters], bwd = new double[iters], upd = new double[iters];
            Runnable step = () -> {
                long t0 = System.nanoTime(), t1, t2;
                try (NDManager sm = root.newSubManager()) {
                    var b = dev.rage2e.model.TextTokenizer.pad(sm, src, m.padTokenId());
                    NDArray di = sm.create(decIn, new Shape(trainBatch, targetLen)),
                            lb = sm.create(labels, new Shape(trainBatch, targetLen));
                    opt.zeroGrad();
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray loss = Seq2SeqLoss.crossEntropy(
                                m.decode(di, null, m.encode(b.ids(), b.mask(), true), b.mask(), b.ids(), true),
                                lb,
                                0.1f);
                        loss.getFloat();
                        t1 = System.nanoTime();
                        gc.backward(loss);
                    }
                }
                t2 = System.nanoTime();
                AdamW.clipGradNorm(m.params().parameters().values(), optManager, 1f);
                opt.step(1e-5f);
                long t3 = System.nanoTime();
                lastSplit = new double[] {(t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9};
            };
            step.run(); // warm-up
            double[] total = new double[iters];
            for (int i = 0; i < iters; i++) {
                long t0 = System.nanoTime();
                step.run();
                total[i] = (System.nanoTime() - t0) / 1e9;
                fwd[i] = lastSplit[0];
                bwd[i] = lastSplit[1];
                upd[i] = lastSplit[2];
                System.err.printf("rag: bench train step %d/%d: %.2f s%n", i + 1, iters, total[i]);
            }
            ObjectNode o = report(
                    "train_step",
                    stats(total),
                    (double) trainBatch * (sourceLen + targetLen),
                    trainBatch * flops.trainStep(sourceLen, targetLen),
                    "tokens_per_s");
            o.put("target_tokens_per_s", trainBatch * targetLen / stats(total)[0]);
            o.put("batch", trainBatch);
            o.put("source_len", sourceLen);
            o.put("target_len", targetLen);
            o.put("forward_s", stats(fwd)[1]);
            o.put("backward_s", stats(bwd)[1]);
            o.put("clip_and_adamw_s", stats(upd)[1]);
            System.out.println(Json.write(o));
        } finally {
            m.params().setRequiresGradient(false);
        }
    }

    private double[] lastSplit;

    private Seq2SeqModel randomModel(NDManager root) {
        BertConfig c = switch (size) {
            case "tiny" -> new BertConfig(30522, 128, 2, 2, 512, "gelu", 0.1f, 0.1f, 512, 2, 1e-12f, 0, false, false);
            case "small" ->
                new BertConfig(30522, 384, 12, 12, 1536, "gelu", 0.1f, 0.1f, 512, 2, 1e-12f, 0, false, false);
            case "base" ->
                new BertConfig(30522, 768, 12, 12, 3072, "gelu", 0.1f, 0.1f, 512, 2, 1e-12f, 0, false, false);
            default -> throw new UserException("--size must be tiny, small or base, got '" + size + "'");
        };
        int n = decoderLayers == null ? c.numHiddenLayers() : decoderLayers;
        if (n < 1 || n > c.numHiddenLayers())
            throw new UserException("--decoder-layers must be between 1 and " + c.numHiddenLayers());
        int[] from = new int[n];
        for (int i = 0; i < n; i++) from[i] = i;
        var tensors =
                Bert2BertWarmStart.build(c, Bert2BertWarmStart.randomBert(c, 0.02f, 0), "random BERT", from, 0.02f, 1);
        EncoderDecoderConfig cfg =
                EncoderDecoderConfig.create(c, c.withLayers(n).asDecoder(), 101, 102, 0);
        return new EncoderDecoderModel(cfg, ParamStore.fromHost(root, tensors, "random " + size), null, null);
    }

    private static long[][] randomIds(int rows, int len, int vocab, long seed) {
        Random r = new Random(seed);
        long[][] out = new long[rows][len];
        for (long[] row : out) for (int j = 0; j < len; j++) row[j] = 1000 + r.nextInt(vocab - 1000);
        return out;
    }

    private double[] time(Runnable r) {
        double[] t = new double[iters];
        for (int i = 0; i < iters; i++) {
            long t0 = System.nanoTime();
            r.run();
            t[i] = (System.nanoTime() - t0) / 1e9;
        }
        return stats(t);
    }

    /** {best, median} seconds. */
    private static double[] stats(double[] t) {
        double[] s = t.clone();
        Arrays.sort(s);
        return new double[] {s[0], s[s.length / 2]};
    }

    private static ObjectNode line(String what) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("bench", "generate");
        o.put("measure", what);
        return o;
    }

    /** Rates from the best time; the median is reported alongside since the machine is shared. */
    private ObjectNode report(String what, double[] bestMedian, double tokens, double flop, String rateName) {
        ObjectNode o = line(what);
        o.put("best_s", bestMedian[0]);
        o.put("median_s", bestMedian[1]);
        o.put(rateName, tokens / bestMedian[0]);
        if (!Double.isNaN(flop)) {
            double gflops = flop / bestMedian[0] / 1e9;
            o.put("gflop", flop / 1e9);
            o.put("gflop_per_s", gflops);
        }
        dev.rage2e.engine.Roofline.report(o, Double.isNaN(flop) ? Double.NaN : flop / bestMedian[0] / 1e9);
        if (what.equals("encode") || what.equals("greedy_no_cache")) System.out.println(Json.write(o));
        return o;
    }
}
