package dev.rage2e.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.faults.CrashHarness.Point;
import dev.rage2e.index.HnswIndex;
import dev.rage2e.index.Indexes;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.testutil.TinyRag;
import dev.rage2e.train.Checkpoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGKILL a real {@code rag train} child at a handful of points; after each kill the survivors are
 * complete, {@code --resume} carries on, nothing temporary is left, and (refresh off) the loss curve
 * equals an uninterrupted run's. The long version with many more kill points is {@link CrashSoakTest}.
 */
class CrashRecoveryTest {
    @TempDir
    Path tmp;

    static List<String> trainArgs(TinyRag t, Path run, int steps, String... extra) {
        List<String> a = new ArrayList<>(List.of(
                "train",
                "--mode",
                "end2end",
                "--max-steps",
                String.valueOf(steps),
                "--checkpoint-every",
                "2",
                "--question-encoder",
                t.encoder.toString(),
                "--generator",
                t.generator.toString(),
                "--kb",
                t.kb.toString(),
                "--train",
                t.squad.toString(),
                "--n-docs",
                "2",
                "--batch-size",
                "4",
                "--max-combined-length",
                "96",
                "--max-target-length",
                "16",
                "--lr",
                "1e-3",
                "--scheduler",
                "constant",
                "--eval-questions",
                "0",
                "--log-every",
                "1",
                "--seed",
                "5",
                "--threads",
                "1",
                "--out",
                run.toString()));
        a.addAll(List.of(extra));
        return a;
    }

    @Test
    void killedDuringStepsAndCheckpointWritesResumesWithTheSameLossCurve() throws Exception {
        TinyRag t = TinyRag.create(tmp, 8, 24, 0.0f);
        int steps = 10;
        Path ref = tmp.resolve("ref");
        assertEquals(
                0,
                dev.rage2e.cli.Main.run(
                        trainArgs(t, ref, steps, "--refresh", "none").toArray(new String[0])));
        TreeMap<Integer, Double> expected = CrashHarness.losses(ref.resolve("metrics.jsonl"));
        assertEquals(steps, expected.size());

        Path run = tmp.resolve("run");
        CrashHarness h =
                new CrashHarness(run, t.kb, "flat", trainArgs(t, run, steps, "--refresh", "none"), tmp.resolve("logs"));
        for (var k : List.of(
                h.killAt(Point.STEP, 0, 90_000),
                h.killAt(Point.CHECKPOINT_WRITE, 0, 90_000),
                h.killAt(Point.STEP, 150, 90_000))) {
            assertTrue(k.killed(), k + " " + h.summary());
            assertNull(k.problem(), k.toString());
        }
        assertEquals(0, h.finish(120_000), () -> "resumed run failed:\n" + h.lastLog());
        assertEquals(List.of(), h.leftovers());
        assertEquals(steps, Checkpoints.readState(Checkpoints.resolve(run)).step);
        List<Integer> logged = h.trainEvents();
        assertEquals(steps, logged.size(), "each step logged once after truncation on resume: " + logged);
        TreeMap<Integer, Double> actual = h.losses();
        for (Map.Entry<Integer, Double> e : expected.entrySet()) {
            double a = actual.get(e.getKey());
            assertEquals(
                    e.getValue(),
                    a,
                    1e-4 * Math.max(1, Math.abs(a)),
                    "loss at step " + e.getKey() + ": uninterrupted vs killed+resumed");
        }
    }

    /** End-to-end with refresh on and a publish lag: killed runs repeat the uninterrupted loss curve exactly. */
    static List<String> lagArgs(TinyRag t, Path run, int steps) {
        return trainArgs(
                t,
                run,
                steps,
                "--indexing-freq",
                "4",
                "--refresh-publish-lag",
                "3",
                "--refresh-batch",
                "8",
                "--refresh-threads",
                "1",
                "--lr-retriever",
                "1e-2");
    }

    @Test
    void endToEndWithPublishLagKilledDuringRefreshAndAfterPublishRepeatsTheLossCurve() throws Exception {
        // two identical setups (same seeds): the runs re-encode their KB, so they cannot share one
        TinyRag r = TinyRag.create(tmp.resolve("a"), 8, 40, 0.0f);
        TinyRag t = TinyRag.create(tmp.resolve("b"), 8, 40, 0.0f);
        int steps = 12;
        Path ref = tmp.resolve("ref");
        assertEquals(0, dev.rage2e.cli.Main.run(lagArgs(r, ref, steps).toArray(new String[0])));
        TreeMap<Integer, Double> expected = CrashHarness.losses(ref.resolve("metrics.jsonl"));
        assertEquals(steps, expected.size());
        List<String> refVersions = CrashHarness.publishedAt(ref.resolve("metrics.jsonl"));
        assertEquals(
                List.of(7, 11, 12),
                refVersions.stream().map(v -> Integer.parseInt(v.split(":")[0])).toList(),
                "refreshes started at 4 and 8 published at 7 and 11, plus the final one: " + refVersions);
        CrashHarness.events(ref.resolve("metrics.jsonl")).stream()
                .filter(e -> e.path("event").asText().equals("refresh_published"))
                .forEach(e -> System.out.println("reference run: " + e));
        // the refreshes change what is retrieved, so a resume on the wrong version would change the losses
        assertTrue(
                CrashHarness.events(ref.resolve("metrics.jsonl")).stream()
                        .anyMatch(e -> e.path("event").asText().equals("refresh_published")
                                && e.path("probe_topk_changed_fraction").asDouble() > 0),
                "some refresh changed the probe questions' top-k");

        Path run = tmp.resolve("run");
        CrashHarness h = new CrashHarness(run, t.kb, "flat", lagArgs(t, run, steps), tmp.resolve("logs"));
        for (Point p : List.of(Point.REFRESH_RUNNING, Point.PUBLISHED, Point.STEP)) {
            var k = h.killAt(p, p == Point.STEP ? 100 : 0, 90_000);
            assertTrue(k.killed(), k + " " + h.summary() + "\n" + h.lastLog());
            assertNull(k.problem(), k.toString());
        }
        assertEquals(0, h.finish(120_000), () -> "resumed run failed:\n" + h.lastLog());
        assertEquals(List.of(), h.leftovers());
        assertNull(h.checkKb());
        TreeMap<Integer, Double> actual = h.losses();
        if (Boolean.getBoolean("debug.lag")) {
            for (var e : CrashHarness.events(ref.resolve("metrics.jsonl"))) System.out.println("REF " + e);
            for (var e : CrashHarness.events(run.resolve("metrics.jsonl"))) System.out.println("RUN " + e);
        }
        assertEquals(expected.keySet(), actual.keySet());
        // every step retrieved from the same vectors (by content: version names differ between the two KBs)
        assertEquals(embeddingsBySteps(ref), embeddingsBySteps(run));
        for (Map.Entry<Integer, Double> e : expected.entrySet()) {
            assertEquals(
                    e.getValue(),
                    actual.get(e.getKey()),
                    0.0,
                    "loss at step " + e.getKey() + ": uninterrupted vs killed+resumed");
        }
        // the final checkpoint names the version of the final refresh, and it is the KB's current one
        String finalVersion = Checkpoints.readState(Checkpoints.resolve(run)).embeddingsVersion;
        assertEquals(KbVersions.requireCurrent(t.kb), finalVersion);
    }

    /** step -> sha256 of the embeddings the step retrieved from (later lines win, as for losses). */
    static TreeMap<Integer, String> embeddingsBySteps(Path run) throws Exception {
        TreeMap<Integer, String> out = new TreeMap<>();
        for (var e : CrashHarness.events(run.resolve("metrics.jsonl"))) {
            if (e.path("event").asText().equals("train"))
                out.put(e.get("step").asInt(), e.path("embeddings_sha256").asText());
        }
        return out;
    }

    @Test
    void killedWhileEncodingIndexingAndPublishingKeepsTheKbConsistent() throws Exception {
        TinyRag t = TinyRag.create(tmp, 8, 64, 0.0f);
        Indexes.build(
                Embeddings.open(KnowledgeBase.open(t.kb), KbVersions.requireCurrent(t.kb)),
                "hnsw",
                new HnswIndex.Params(16, 50, 50, 1));
        int steps = 14;
        Path run = tmp.resolve("run");
        CrashHarness h = new CrashHarness(
                run,
                t.kb,
                "hnsw",
                trainArgs(t, run, steps, "--index-type", "hnsw", "--indexing-freq", "2", "--refresh-batch", "8"),
                tmp.resolve("logs"));
        for (Point p : List.of(Point.KB_ENCODE, Point.INDEX_BUILD, Point.UNPUBLISHED)) {
            var k = h.killAt(p, 0, 90_000);
            assertNull(k.problem(), k.toString());
        }
        assertTrue(
                h.kills().stream().filter(CrashHarness.Kill::killed).count() >= 2,
                "most kill points reached: " + h.summary());
        assertEquals(0, h.finish(120_000), () -> "resumed run failed:\n" + h.lastLog());
        assertEquals(List.of(), h.leftovers());
        assertNull(h.checkKb());
        assertEquals(steps, Checkpoints.readState(Checkpoints.resolve(run)).step);
    }
}
