package dev.rage2e.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.rage2e.eval.AnswerEval;
import dev.rage2e.model.BertForQuestionAnswering;
import dev.rage2e.rag.RagDecoder;
import dev.rage2e.rag.RagExample;
import dev.rage2e.rag.RagModel;
import dev.rage2e.rag.Retriever;
import dev.rage2e.run.TrainingRun;
import dev.rage2e.testutil.TinyRag;
import dev.rage2e.train.RagCheckpoint;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.util.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * RAG with an extractive span reader on a tiny random BERT (real tokenizer, real KB and index): gradients reach
 * question encoder, context encoder and reader; the reader stage on gold passages overfits a handful of questions;
 * end-to-end RAG training lowers the marginal loss; a checkpoint reloads in HF layout with identical outputs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SpanRagTest {
    @TempDir
    static Path tmp;

    TinyRag tiny;
    Path reader;

    @BeforeAll
    void setUp() throws Exception {
        tiny = TinyRag.create(tmp.resolve("tiny"), 12, 6, 0.0f);
        reader = tmp.resolve("reader");
        BertForQuestionAnswering.initFrom(tiny.encoder, reader, 3, BertForQuestionAnswering.Settings.DEFAULT);
    }

    private TrainConfig config(String mode) {
        TrainConfig c = tiny.config();
        c.generator = reader.toString();
        c.mode = dev.rage2e.util.Choice.parse(TrainConfig.Mode.class, "mode", mode);
        c.indexingFreq = 1000;
        c.batchSize = 6;
        c.maxCombinedLength = 160;
        // the KB may hold a version a refresh made (no model directory) by now
        c.contextEncoder = tiny.encoder.toString();
        c.nDocs = 6; // of 18 passages: a random tiny encoder retrieves the gold one for some questions
        return c;
    }

    @Test
    void savedAsHuggingFaceBertForQuestionAnswering() throws Exception {
        var cfg = Json.read(reader.resolve("config.json"));
        assertEquals(
                "BertForQuestionAnswering", cfg.path("architectures").get(0).asText());
        assertEquals("bert", cfg.path("model_type").asText());
        Map<String, ?> names = dev.rage2e.weights.Safetensors.read(reader.resolve("model.safetensors"));
        assertTrue(names.containsKey("qa_outputs.weight") && names.containsKey("qa_outputs.bias"));
        assertTrue(names.containsKey("bert.embeddings.word_embeddings.weight")
                && names.containsKey("bert.encoder.layer.1.output.dense.weight"));
        assertTrue(
                names.keySet().stream().noneMatch(k -> k.contains("pooler")),
                "HF's BertForQuestionAnswering has no pooler");
        assertTrue(Files.exists(reader.resolve("tokenizer.json")));
    }

    @Test
    void gradientsReachBothEncodersThroughDocScoresAndTheReaderThroughSpanLogits() throws Exception {
        TrainConfig c = config("end2end");
        c.maxSteps = 1;
        try (TrainingRun run = TrainingRun.open(c, tmp.resolve("grad-run"), false);
                NDManager m = NDManager.newBaseManager()) {
            RagModel rag = run.model();
            List<RagExample> batch = new ArrayList<>();
            for (var q : tiny.questions) batch.add(new RagExample(q.id(), q.question(), q.answers()));
            try (Retriever.Snapshot snap = run.retriever().acquire();
                    GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                RagModel.Output out = rag.loss(m, batch, snap, true, null);
                assertTrue(out.answerless() < batch.size(), "some question has its answer in a retrieved passage");
                gc.backward(out.loss());
            }
            assertTrue(maxAbsGrad(rag.questionEncoder.params.parameters()) > 0, "question encoder");
            assertTrue(maxAbsGrad(rag.contextEncoder.params.parameters()) > 0, "context encoder (end-to-end)");
            assertTrue(
                    maxAbsGrad(Map.of(
                                    "qa",
                                    rag.spanReader.model.params().parameters().get("qa_outputs.weight")))
                            > 0,
                    "reader head");
            assertTrue(
                    maxAbsGrad(Map.of(
                                    "emb",
                                    rag.spanReader
                                            .model
                                            .params()
                                            .parameters()
                                            .get("bert.embeddings.word_embeddings.weight")))
                            > 0,
                    "reader body");
        }
    }

    private static double maxAbsGrad(Map<String, NDArray> params) {
        double max = 0;
        for (NDArray p : params.values()) {
            NDArray g = p.getGradient();
            if (g != null) max = Math.max(max, g.abs().max().getFloat());
        }
        return max;
    }

    @Test
    void readerStageOverfitsGoldPassagesThenRagTrainsAndReloads() throws Exception {
        // reader stage: gold passages only (encoders frozen, no retrieval)
        TrainConfig stage = config("original");
        stage.readerOnly = true;
        stage.maxSteps = 60;
        Path stageRun = tmp.resolve("stage");
        Path stageReader;
        try (TrainingRun run = TrainingRun.open(stage, stageRun, false);
                NDManager m = NDManager.newBaseManager()) {
            // the weights themselves, not a sum: a sum's rounding depends on the
            // intra-op thread count, which training sets
            float[] before = run.model()
                    .questionEncoder
                    .params
                    .parameters()
                    .values()
                    .iterator()
                    .next()
                    .toFloatArray();
            run.run(Integer.MAX_VALUE);
            List<Float> l = run.trainer().losses();
            System.out.printf("span-rag: reader stage loss %.3f -> %.3f%n", l.get(0), l.get(l.size() - 1));
            assertTrue(l.get(l.size() - 1) < 0.2 * l.get(0), "reader-only loss falls: " + l);
            org.junit.jupiter.api.Assertions.assertArrayEquals(
                    before,
                    run.model()
                            .questionEncoder
                            .params
                            .parameters()
                            .values()
                            .iterator()
                            .next()
                            .toFloatArray(),
                    "encoders stay frozen in the reader stage");
            for (String score : new String[] {"max", "sum"}) {
                RagDecoder dec = new RagDecoder(
                        run.model(),
                        new RagDecoder.Options(1, 12),
                        RagDecoder.Mode.TOKEN,
                        SpanReader.SpanScore.parse(score));
                AnswerEval.Report r = AnswerEval.run(
                        run.model(),
                        dec,
                        run.retriever(),
                        tiny.questions,
                        4,
                        new int[] {1},
                        tmp.resolve("gold-" + score + ".jsonl"),
                        m,
                        null,
                        true);
                System.out.printf("span-rag: gold-passage EM %.3f F1 %.3f (%s)%n", r.em(), r.f1(), score);
                assertEquals(tiny.questions.size(), r.questions());
                assertTrue(
                        r.em() >= 0.75,
                        "trained questions are answered from their gold passages: EM " + r.em() + " (" + score + ")");
            }
            stageReader = dev.rage2e.train.Checkpoints.resolve(stageRun).resolve("generator");
        }
        // RAG training from the stage's reader, end to end
        TrainConfig c = config("end2end");
        c.generator = stageReader.toString();
        c.maxSteps = 30;
        Path runDir = tmp.resolve("e2e");
        List<String> trained;
        try (TrainingRun run = TrainingRun.open(c, runDir, false);
                NDManager m = NDManager.newBaseManager()) {
            double before = answeredNll(run, m);
            run.run(Integer.MAX_VALUE);
            double after = answeredNll(run, m);
            System.out.printf("span-rag: end2end NLL per answered question %.3f -> %.3f%n", before, after);
            assertTrue(after < 0.7 * before, "end-to-end training lowers the marginal NLL: " + before + " -> " + after);
            // as served: doc scores from the stored embeddings (the trained context encoder re-embeds only in training)
            var st = run.model().settings;
            trained = answers(
                    run.model()
                            .withSettings(new dev.rage2e.rag.RagSettings(
                                    st.kind(),
                                    st.nDocs(),
                                    st.maxQuestionLength(),
                                    st.maxCombinedLength(),
                                    st.maxTargetLength(),
                                    st.labelSmoothing(),
                                    st.excludeBosScore(),
                                    false,
                                    0)),
                    run.retriever(),
                    m);
        }
        // the checkpoint reloads as a span reader in HF layout and answers identically
        try (NDManager m = NDManager.newBaseManager();
                TrainingRun run = TrainingRun.open(c, runDir, true)) {
            RagCheckpoint.Loaded l = RagCheckpoint.load(runDir, m);
            try (RagModel reloaded = l.model()) {
                assertNotNull(reloaded.spanReader);
                assertEquals(trained, answers(reloaded, run.retriever(), m));
            }
        }
        // served: the API names the span, and it is the answer's place in that passage
        try (dev.rage2e.serve.RagBackend server =
                dev.rage2e.serve.RagBackend.open(runDir, null, dev.rage2e.serve.RagBackend.Options.defaults())) {
            var o = server.answer(tiny.questions.get(0).question(), 3);
            assertEquals("span", o.path("reader").asText());
            var sp = o.path("span");
            String text = o.path("passages")
                    .get(sp.path("passage").asInt())
                    .path("text")
                    .asText();
            assertEquals(
                    o.path("answer").asText(),
                    text.substring(sp.path("start").asInt(), sp.path("end").asInt()));
        }
    }

    /** Mean -log p(y|x) over the trained questions whose answer is in a retrieved passage (dropout is 0 here). */
    private double answeredNll(TrainingRun run, NDManager parent) {
        List<RagExample> batch = new ArrayList<>();
        for (var q : tiny.questions) batch.add(new RagExample(q.id(), q.question(), q.answers()));
        try (NDManager m = parent.newSubManager();
                Retriever.Snapshot snap = run.retriever().acquire()) {
            RagModel.Output out = run.model().loss(m, batch, snap, false, null);
            int answered = batch.size() - out.answerless();
            assertTrue(answered > 0, "some trained question has its answer in a retrieved passage");
            return out.loss().getFloat() * batch.size() / answered;
        }
    }

    @Test
    void readerStageTrainsAGeneratorToo() throws Exception {
        TrainConfig c = tiny.config(); // the BERT2BERT generator of the tiny setup
        c.readerOnly = true;
        c.maxSteps = 50;
        c.batchSize = 12;
        try (TrainingRun run = TrainingRun.open(c, tmp.resolve("gen-stage"), false)) {
            run.run(Integer.MAX_VALUE);
            List<Float> l = run.trainer().losses();
            double first = l.subList(0, 5).stream()
                    .mapToDouble(Float::doubleValue)
                    .average()
                    .orElseThrow();
            double last = l.subList(l.size() - 5, l.size()).stream()
                    .mapToDouble(Float::doubleValue)
                    .average()
                    .orElseThrow();
            System.out.printf("span-rag: generator reader stage loss %.3f -> %.3f%n", first, last);
            assertTrue(last < 0.6 * first, "teacher-forced loss on gold passages falls: " + l);
        }
    }

    private List<String> answers(RagModel rag, Retriever retriever, NDManager m) {
        RagDecoder dec = new RagDecoder(rag, new RagDecoder.Options(1, 12), RagDecoder.Mode.TOKEN);
        List<String> qs = new ArrayList<>();
        for (var q : tiny.questions) qs.add(q.question());
        List<String> out = new ArrayList<>();
        try (Retriever.Snapshot snap = retriever.acquire()) {
            for (RagDecoder.Answer a : dec.answer(m, qs, snap)) {
                out.add(a.answer() + " @"
                        + (a.span() == null
                                ? "-"
                                : a.span().passage() + ":" + a.span().start() + "-"
                                        + a.span().end()));
                if (a.span() != null) {
                    assertEquals(
                            a.answer(),
                            a.passages()
                                    .get(a.span().passage())
                                    .text()
                                    .substring(a.span().start(), a.span().end()),
                            "the answer is cut from the passage it names");
                }
            }
        }
        return out;
    }
}
