package dev.rage2e.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.rage2e.eval.AnswerEval;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.model.Seq2SeqModels;
import dev.rage2e.rag.RagDecoder;
import dev.rage2e.rag.RagExample;
import dev.rage2e.rag.RagModel;
import dev.rage2e.rag.RagSettings;
import dev.rage2e.rag.Retriever;
import dev.rage2e.run.TrainingRun;
import dev.rage2e.testutil.TinyRag;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Original-mode RAG training on a tiny real setup: learning, resume, gradient routing, bad input. */
class RagTrainingTest {
    @TempDir
    Path tmp;

    @Test
    void overfits32QuestionsToExactMatch() throws Exception {
        TinyRag t = TinyRag.create(tmp, 32, 16, 0.0f);
        TrainConfig c = t.config();
        c.maxSteps = 240;
        c.modelType = dev.rage2e.rag.RagLoss.Kind.TOKEN;
        long t0 = System.nanoTime();
        try (TrainingRun run = TrainingRun.open(c, tmp.resolve("run"), false)) {
            run.run(Integer.MAX_VALUE);
            RagDecoder dec = new RagDecoder(run.model(), new RagDecoder.Options(1, 12), RagDecoder.Mode.TOKEN);
            try (NDManager m = NDManager.newBaseManager()) {
                AnswerEval.Report r = AnswerEval.run(
                        run.model(), dec, run.retriever(), t.questions, 16, new int[] {1, 2}, null, m, null);
                double secs = (System.nanoTime() - t0) / 1e9;
                System.out.printf(
                        "overfit: EM %.3f F1 %.3f after %d steps in %.0fs%n", r.em(), r.f1(), c.maxSteps, secs);
                assertTrue(r.em() >= 0.9, "EM after training: " + r.em());
            }
            List<Float> losses = run.trainer().losses();
            assertTrue(
                    losses.get(losses.size() - 1) < losses.get(0) * 0.2,
                    "loss fell: " + losses.get(0) + " -> " + losses.get(losses.size() - 1));
        }
        assertTrue(Files.isDirectory(Checkpoints.resolve(tmp.resolve("run")).resolve("generator")));
    }

    @Test
    void resumedRunRepeatsTheUninterruptedLossCurve() throws Exception {
        TinyRag t = TinyRag.create(tmp, 12, 4, 0.1f); // dropout on: the RNG must be restored too
        TrainConfig c = t.config();
        c.maxSteps = 6;
        c.checkpointEvery = 3;
        c.batchSize = 4;
        c.scheduler = LrSchedule.Kind.LINEAR;
        c.warmupSteps = 2;
        List<Float> full;
        try (TrainingRun run = TrainingRun.open(c, tmp.resolve("full"), false)) {
            run.run(Integer.MAX_VALUE);
            full = new ArrayList<>(run.trainer().losses());
        }
        try (TrainingRun run = TrainingRun.open(c, tmp.resolve("split"), false)) {
            run.run(3);
            assertEquals(full.subList(0, 3), run.trainer().losses());
        }
        assertThrows(
                UserException.class,
                () -> TrainingRun.open(c, tmp.resolve("split"), false),
                "a second fresh run into the same folder");
        try (TrainingRun run =
                TrainingRun.open(TrainConfig.load(tmp.resolve("split/config.yaml")), tmp.resolve("split"), true)) {
            assertEquals(3, run.trainer().state().step);
            run.run(Integer.MAX_VALUE);
            List<Float> resumed = run.trainer().losses();
            assertEquals(3, resumed.size());
            for (int i = 0; i < 3; i++) {
                assertEquals(
                        full.get(3 + i), resumed.get(i), 1e-4 * Math.abs(full.get(3 + i)), "loss at step " + (4 + i));
            }
        }
        long trainLines = Files.readAllLines(tmp.resolve("split/metrics.jsonl")).stream()
                .filter(l -> l.contains("\"checkpoint\""))
                .count();
        assertEquals(2, trainLines, "checkpoints at steps 3 and 6");
    }

    @Test
    void contextEncoderGetsGradientsOnlyInEndToEndMode() throws Exception {
        TinyRag t = TinyRag.create(tmp, 4, 4, 0.0f);
        try (NDManager m = NDManager.newBaseManager();
                KbRetriever kb = KbRetriever.open(KnowledgeBase.open(t.kb), "flat")) {
            for (boolean end2end : new boolean[] {false, true}) {
                EncoderModel q = EncoderModel.load(t.encoder, m);
                EncoderModel ctx = EncoderModel.load(t.encoder, m);
                RagSettings s =
                        new RagSettings(dev.rage2e.rag.RagLoss.Kind.TOKEN, 2, 32, 96, 16, 0f, false, end2end, 0);
                try (RagModel rag = new RagModel(q, ctx, Seq2SeqModels.load(t.generator, m), s)) {
                    q.params.setRequiresGradient(true);
                    ctx.params.setRequiresGradient(true);
                    List<RagExample> batch = new ArrayList<>();
                    for (var e : t.questions) batch.add(new RagExample(e.id(), e.question(), e.answers()));
                    try (Retriever.Snapshot snap = kb.acquire();
                            NDManager sub = m.newSubManager();
                            GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        gc.backward(rag.loss(sub, batch, snap, true, null).loss());
                    }
                    double ctxGrad = gradNorm(ctx), qGrad = gradNorm(q);
                    assertTrue(qGrad > 0, "question encoder learns through doc scores in both modes");
                    if (end2end) assertTrue(ctxGrad > 0, "end2end: context encoder gradient " + ctxGrad);
                    else assertEquals(0.0, ctxGrad, "original: context encoder must receive no gradient");
                }
            }
        }
    }

    @Test
    void retrieverWarmupFreezesBothEncodersAndDefersRefreshes() throws Exception {
        TinyRag t = TinyRag.create(tmp, 8, 4, 0.0f);
        TrainConfig c = t.config();
        c.mode = TrainConfig.Mode.END2END;
        c.maxSteps = 8;
        c.retrieverWarmupSteps = 4;
        // due at steps 2 and 4 (warm-up: not started), 6 (started), 8 (end of training: the final refresh)
        c.indexingFreq = 2;
        try (TrainingRun run = TrainingRun.open(c, tmp.resolve("run"), false)) {
            RagModel rag = run.model();
            Map<String, float[]> q0 = values(rag.questionEncoder.params), d0 = values(rag.contextEncoder.params);
            Map<String, float[]> g0 = values(rag.generator.params());
            run.run(4);
            assertEquals(
                    List.of(), changed(q0, rag.questionEncoder.params), "question encoder frozen: every parameter");
            assertEquals(List.of(), changed(d0, rag.contextEncoder.params), "context encoder frozen: every parameter");
            assertEquals(
                    g0.keySet().stream().toList(),
                    changed(g0, rag.generator.params()),
                    "the generator trains during the warm-up: every parameter");
            run.run(8);
            assertEquals(
                    q0.keySet().stream().toList(),
                    changed(q0, rag.questionEncoder.params),
                    "question encoder trains after the warm-up");
            assertEquals(
                    d0.keySet().stream().toList(),
                    changed(d0, rag.contextEncoder.params),
                    "context encoder trains after the warm-up");
        }
        List<Integer> started = new ArrayList<>();
        for (String line : Files.readAllLines(tmp.resolve("run/metrics.jsonl"))) {
            var o = dev.rage2e.util.Json.MAPPER.readTree(line);
            if (o.path("event").asText().equals("refresh_start"))
                started.add(o.path("step").asInt());
        }
        assertEquals(
                List.of(6, 8),
                started,
                "the first refresh comes after the warm-up (8: the final refresh from the final weights)");
    }

    private static Map<String, float[]> values(dev.rage2e.model.ParamStore p) {
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        p.parameters().forEach((k, v) -> out.put(k, v.toFloatArray()));
        return out;
    }

    /** Names of the parameters whose values differ from {@code before}, in order. */
    private static List<String> changed(Map<String, float[]> before, dev.rage2e.model.ParamStore p) {
        List<String> out = new ArrayList<>();
        p.parameters().forEach((k, v) -> {
            if (!java.util.Arrays.equals(before.get(k), v.toFloatArray())) out.add(k);
        });
        return out;
    }

    private static double gradNorm(EncoderModel e) {
        double sq = 0;
        for (NDArray p : e.params.parameters().values()) {
            if (!p.hasGradient()) continue;
            NDArray g = p.getGradient();
            sq += g.square().sum().getFloat();
        }
        return Math.sqrt(sq);
    }

    @Test
    void badInputStopsBeforeTraining() throws Exception {
        TinyRag t = TinyRag.create(tmp, 4, 0, 0.0f);
        Path yaml = tmp.resolve("bad.yaml");
        Files.writeString(yaml, "lr: 1e-4\nn-docs: 2\nlearning-rate: 3\n");
        UserException e = assertThrows(UserException.class, () -> TrainConfig.load(yaml));
        assertTrue(e.getMessage().contains("bad.yaml:3") && e.getMessage().contains("learning-rate"), e.getMessage());

        Path src = tmp.resolve("train.source"), tgt = tmp.resolve("train.target");
        Files.writeString(src, "who?\n\nwhat?\n");
        Files.writeString(tgt, "a\nb\nc\n");
        TrainConfig lines = t.config();
        lines.train = null;
        lines.trainSource = src.toString();
        lines.trainTarget = tgt.toString();
        e = assertThrows(UserException.class, () -> TrainingRun.open(lines, tmp.resolve("r1"), false));
        assertTrue(
                e.getMessage().contains("train.source:2") && e.getMessage().contains("empty question"), e.getMessage());
        Files.writeString(src, "who?\nwhat?\n");
        Files.writeString(tgt, "a\n");
        e = assertThrows(UserException.class, () -> TrainingRun.open(lines, tmp.resolve("r2"), false));
        assertTrue(e.getMessage().contains("has 1 lines"), e.getMessage());

        TrainConfig neg = t.config();
        neg.nDocs = 0;
        e = assertThrows(UserException.class, () -> TrainingRun.open(neg, tmp.resolve("r3"), false));
        assertTrue(e.getMessage().contains("n-docs"), e.getMessage());

        // a KB encoded with a different dimension than the question encoder
        TrainConfig dim = t.config();
        // hidden 64 but ... same dim: use a real 384-d one instead
        dim.questionEncoder = dev.rage2e.testutil.Fixtures.hf("bert").toString();
        Path other = tmp.resolve("other-encoder");
        Files.createDirectories(other);
        dev.rage2e.testutil.BertTokenizerJson.copyTo(other);
        var cfg = new java.util.LinkedHashMap<String, Object>();
        cfg.put("vocab_size", 30522);
        cfg.put("hidden_size", 32);
        cfg.put("num_hidden_layers", 1);
        cfg.put("num_attention_heads", 2);
        cfg.put("intermediate_size", 64);
        cfg.put("max_position_embeddings", 128);
        dev.rage2e.util.Json.writeFile(other.resolve("config.json"), cfg);
        dev.rage2e.weights.Safetensors.write(
                other.resolve("model.safetensors"),
                dev.rage2e.model.Bert2BertWarmStart.randomBert(
                        dev.rage2e.model.BertConfig.load(other.resolve("config.json")), 0.02f, 1),
                java.util.Map.of());
        dim.questionEncoder = other.toString();
        e = assertThrows(UserException.class, () -> TrainingRun.open(dim, tmp.resolve("r4"), false));
        assertTrue(e.getMessage().contains("dim 64") && e.getMessage().contains("dim 32"), e.getMessage());
        assertNull(Checkpoints.latestOrNull(tmp.resolve("r4")));

        Path squad = tmp.resolve("noanswers.json");
        Files.writeString(
                squad,
                "{\"data\":[{\"title\":\"T\",\"paragraphs\":[{\"context\":\"c\","
                        + "\"qas\":[{\"id\":\"1\",\"question\":\"q?\",\"answers\":[]}]}]}]}");
        TrainConfig noAns = t.config();
        noAns.train = squad.toString();
        e = assertThrows(UserException.class, () -> TrainingRun.open(noAns, tmp.resolve("r5"), false));
        assertNotNull(e.getMessage());
        assertTrue(e.getMessage().contains("noanswers.json"), e.getMessage());
    }
}
