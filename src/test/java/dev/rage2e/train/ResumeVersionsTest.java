package dev.rage2e.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.run.TrainingRun;
import dev.rage2e.testutil.TinyRag;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a resumed end-to-end run needs from the KB and the run folder (in-process, no kills). */
class ResumeVersionsTest {
    @TempDir
    Path tmp;

    private static TrainConfig e2e(TinyRag t) {
        TrainConfig c = t.config();
        c.mode = TrainConfig.Mode.END2END;
        c.maxSteps = 8;
        c.indexingFreq = 2;
        c.refreshPublishLag = 1;
        c.checkpointEvery = 2;
        c.keepCheckpoints = 2;
        c.batchSize = 4;
        c.logEvery = 1;
        c.refreshBatch = 8;
        return c;
    }

    @Test
    void keptCheckpointsKeepTheirVersionsAndResumeUsesThem() throws Exception {
        TinyRag t = TinyRag.create(tmp, 8, 24, 0.0f);
        TrainConfig c = e2e(t);
        Path run = tmp.resolve("run");
        List<Float> first;
        try (TrainingRun r = TrainingRun.open(c, run, false)) {
            r.run(5); // refreshes started after steps 2 and 4 are published after steps 3 and 5
            first = List.copyOf(r.trainer().losses());
        }
        String v4 = Checkpoints.readState(run.resolve(Checkpoints.name(4))).embeddingsVersion;
        String current = KbVersions.requireCurrent(t.kb);
        assertNotEquals(current, v4, "a refresh was published after checkpoint 4");
        // checkpoint 4 names the version published after step 3, the one step 5 used
        assertEquals("emb-00002", v4);
        assertTrue(Files.isDirectory(t.kb.resolve(v4)), "the version a kept checkpoint names survives a later publish");
        assertTrue(Files.isDirectory(
                t.kb.resolve(Checkpoints.readState(run.resolve(Checkpoints.name(2))).embeddingsVersion)));

        float step5;
        try (TrainingRun r = TrainingRun.open(c, run, true)) {
            assertEquals(v4, r.retriever().version(), "resume trains on the checkpoint's version, not on current");
            assertEquals(v4, KbVersions.requireCurrent(t.kb));
            r.run(5);
            step5 = r.trainer().losses().get(0);
        }
        assertEquals(first.get(4), step5, 0.0f, "step 5 after resume = step 5 of the first run");
        // the version published after the checkpoint was this run's and nothing names it: gone after resume
        assertFalse(Files.exists(t.kb.resolve(current)), current + " should have been cleaned up");

        try (TrainingRun r = TrainingRun.open(c, run, true)) {
            r.run(Integer.MAX_VALUE);
        }
        // pruned checkpoints' versions are deleted; the kept ones' (6, 8, and 4
        // that this process resumed from) and current stay
        TreeSet<String> want = new TreeSet<>(List.of(KbVersions.requireCurrent(t.kb)));
        TreeSet<String> cps = new TreeSet<>();
        try (var files = Files.list(run)) {
            files.filter(p -> p.getFileName().toString().startsWith("checkpoint-"))
                    .forEach(p -> {
                        cps.add(p.getFileName().toString());
                        want.add(Checkpoints.readState(p).embeddingsVersion);
                    });
        }
        assertEquals(new TreeSet<>(List.of(Checkpoints.name(4), Checkpoints.name(6), Checkpoints.name(8))), cps);
        assertEquals(want, new TreeSet<>(KbVersions.list(t.kb)));
    }

    @Test
    void theFinalIndexIsEncodedByTheFinalContextEncoderUnlessSkipped() throws Exception {
        for (boolean skip : new boolean[] {false, true}) {
            TinyRag t = TinyRag.create(tmp.resolve("skip-" + skip), 8, 16, 0.0f);
            TrainConfig c = e2e(t);
            c.maxSteps = 5;
            c.noFinalRefresh = skip;
            Path run = tmp.resolve("run-" + skip);
            try (TrainingRun r = TrainingRun.open(c, run, false)) {
                r.run(Integer.MAX_VALUE);
            }
            Path cp = Checkpoints.resolve(run);
            String current = KbVersions.requireCurrent(t.kb);
            assertEquals(
                    current,
                    Checkpoints.readState(cp).embeddingsVersion,
                    "the final checkpoint names the current version");
            String mismatch = EmbeddingsMatch.mismatch(cp, dev.rage2e.kb.KnowledgeBase.open(t.kb), current);
            if (skip) {
                assertTrue(
                        mismatch != null
                                && mismatch.contains(t.kb.resolve(current).toString())
                                && !mismatch.contains("\n"),
                        mismatch);
            } else {
                assertEquals(null, mismatch, "the final refresh encoded the KB with the checkpoint's context encoder");
            }
        }
    }

    @Test
    void aMissingVersionFailsResumeWithOneLineNamingIt() throws Exception {
        TinyRag t = TinyRag.create(tmp, 8, 24, 0.0f);
        TrainConfig c = e2e(t);
        Path run = tmp.resolve("run");
        try (TrainingRun r = TrainingRun.open(c, run, false)) {
            r.run(4);
        }
        String v = Checkpoints.readState(Checkpoints.resolve(run)).embeddingsVersion;
        // the version is current (refresh at 4 still pending): publish the initial one to be allowed to delete it
        KbVersions.publish(
                t.kb,
                KbVersions.list(t.kb).get(0).equals(v)
                        ? KbVersions.list(t.kb).get(1)
                        : KbVersions.list(t.kb).get(0));
        KbVersions.delete(t.kb, v);
        UserException e = assertThrows(
                UserException.class, () -> TrainingRun.open(c, run, true).close());
        assertTrue(e.getMessage().contains(t.kb.resolve(v).toString()), e.getMessage());
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void maxMinutesCountsTheTimeOfEarlierRuns() throws Exception {
        TinyRag t = TinyRag.create(tmp, 8, 8, 0.0f);
        TrainConfig c = t.config();
        c.maxSteps = 10;
        c.checkpointEvery = 2;
        c.batchSize = 4;
        Path run = tmp.resolve("run");
        try (TrainingRun r = TrainingRun.open(c, run, false)) {
            r.run(2);
        }
        // pretend the first run had used all but a microsecond of 10 minutes
        // (a tiny step on an idle box can take < 0.1 s)
        Path state = run.resolve(Checkpoints.name(2)).resolve(Checkpoints.STATE);
        ObjectNode s = (ObjectNode) Json.read(state);
        s.put("budgetSeconds", 599.999999);
        AtomicFiles.writeString(state, Json.write(s));
        c.maxMinutes = 10;
        try (TrainingRun r = TrainingRun.open(c, run, true)) {
            r.run(Integer.MAX_VALUE);
            assertTrue(r.trainer().stoppedByBudget());
            assertEquals(3, r.trainer().state().step, "the budget was used up after the first resumed step");
        }
    }

    @Test
    void aDecayOverABudgetBoundRunFollowsTheBudgetAcrossAResume() throws Exception {
        TinyRag t = TinyRag.create(tmp, 8, 8, 0.0f);
        TrainConfig c = t.config();
        c.maxSteps = 1_000_000; // never reached: the budget ends training, so the decay must follow the budget
        c.scheduler = LrSchedule.Kind.LINEAR;
        c.warmupSteps = 0;
        c.checkpointEvery = 2;
        c.batchSize = 4;
        c.logEvery = 1;
        c.maxMinutes = 10;
        Path run = tmp.resolve("run");
        try (TrainingRun r = TrainingRun.open(c, run, false)) {
            r.run(2);
        }
        // the first run used half of the 10 minutes
        Path state = run.resolve(Checkpoints.name(2)).resolve(Checkpoints.STATE);
        ObjectNode s = (ObjectNode) Json.read(state);
        s.put("budgetSeconds", 300.0);
        AtomicFiles.writeString(state, Json.write(s));
        try (TrainingRun r = TrainingRun.open(c, run, true)) {
            r.run(3);
        }
        List<Double> lrs = new java.util.ArrayList<>();
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            var o = Json.MAPPER.readTree(line);
            if (o.path("event").asText().equals("train")) lrs.add(o.path("lr").asDouble());
        }
        assertEquals(3, lrs.size(), lrs.toString());
        assertTrue(lrs.get(0) > 0.99 * c.lr, "the first steps use almost all of the budget's lr: " + lrs);
        double third = lrs.get(2) / c.lr;
        assertTrue(third > 0.45 && third <= 0.5, "half the budget used: half the lr, got " + third);
    }

    @Test
    void anUnusedPoolerIsSavedUnchanged() throws Exception {
        TinyRag t = TinyRag.create(tmp, 8, 8, 0.0f);
        // give the (mean-pooling) encoder a pooler, as sentence-transformers exports have
        Path f = t.encoder.resolve("model.safetensors");
        Map<String, HostTensor> w = new java.util.LinkedHashMap<>(Safetensors.read(f));
        float[] dense = new float[64 * 64];
        float[] bias = new float[64];
        java.util.Random rnd = new java.util.Random(3);
        for (int i = 0; i < dense.length; i++) dense[i] = (float) rnd.nextGaussian() * 0.05f;
        for (int i = 0; i < bias.length; i++) bias[i] = 0.5f;
        w.put("pooler.dense.weight", HostTensor.ofFloats(dense, new long[] {64, 64}));
        w.put("pooler.dense.bias", HostTensor.ofFloats(bias, new long[] {64}));
        Safetensors.write(f, w, Map.of("format", "pt"));
        TrainConfig c = t.config();
        c.maxSteps = 2;
        c.batchSize = 4;
        c.weightDecay = 0.1f;
        Path run = tmp.resolve("run");
        try (TrainingRun r = TrainingRun.open(c, run, false)) {
            r.run(Integer.MAX_VALUE);
        }
        Map<String, HostTensor> saved = Safetensors.read(
                Checkpoints.resolve(run).resolve("question_encoder").resolve("model.safetensors"));
        assertTrue(
                java.util.Arrays.equals(dense, saved.get("pooler.dense.weight").toFloats()), "pooler weight unchanged");
        assertTrue(java.util.Arrays.equals(bias, saved.get("pooler.dense.bias").toFloats()), "pooler bias unchanged");
    }
}
