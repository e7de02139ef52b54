package dev.rage2e.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.faults.CrashHarness.Point;
import dev.rage2e.index.HnswIndex;
import dev.rage2e.index.Indexes;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.testutil.TinyRag;
import dev.rage2e.train.Checkpoints;
import dev.rage2e.util.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The long crash soak (minutes; excluded from the normal suite): three runs killed at 36+ points in all:
 * refresh off, end-to-end with asynchronous HNSW refreshes, and end-to-end with {@code --refresh-publish-lag}
 * (which must repeat the uninterrupted run exactly).
 * Run: {@code mvn test -Dtest=CrashSoakTest -Dgroups=soak -DexcludedTestGroups=none} (or
 * {@code bench/crash-soak.sh}). Prints a JSON summary and writes it to target/crash-soak.json.
 */
@Tag("soak")
class CrashSoakTest {
    @TempDir
    Path tmp;

    @Test
    void soak() throws Exception {
        int deterministicKills = Integer.getInteger("soak.deterministicKills", 8);
        int refreshKills = Integer.getInteger("soak.refreshKills", 16);
        Random rnd = new Random(Long.getLong("soak.seed", 1));
        TinyRag t = TinyRag.create(tmp, 8, 64, 0.0f);

        // 1. refresh off: the loss curve must equal an uninterrupted run's
        int steps1 = 3 * deterministicKills + 6;
        Path ref = tmp.resolve("ref");
        assertEquals(
                0,
                dev.rage2e.cli.Main.run(CrashRecoveryTest.trainArgs(t, ref, steps1, "--refresh", "none")
                        .toArray(new String[0])));
        TreeMap<Integer, Double> expected = CrashHarness.losses(ref.resolve("metrics.jsonl"));
        Path run1 = tmp.resolve("run-deterministic");
        CrashHarness h1 = new CrashHarness(
                run1,
                t.kb,
                "flat",
                CrashRecoveryTest.trainArgs(t, run1, steps1, "--refresh", "none"),
                tmp.resolve("logs1"));
        Point[] p1 = {Point.STEP, Point.CHECKPOINT_WRITE, Point.TIME};
        for (int i = 0; i < deterministicKills; i++) {
            Point p = p1[i % p1.length];
            h1.killAt(p, p == Point.TIME ? 2000 + rnd.nextInt(6000) : p == Point.STEP ? rnd.nextInt(400) : 0, 120_000);
        }
        int rc1 = h1.finish(300_000);
        double maxLossDiff = 0;
        TreeMap<Integer, Double> actual = h1.losses();
        for (Map.Entry<Integer, Double> e : expected.entrySet()) {
            maxLossDiff = Math.max(maxLossDiff, Math.abs(e.getValue() - actual.getOrDefault(e.getKey(), Double.NaN)));
        }

        // 2. end-to-end with asynchronous refreshes and an HNSW index
        Indexes.build(
                Embeddings.open(KnowledgeBase.open(t.kb), KbVersions.requireCurrent(t.kb)),
                "hnsw",
                new HnswIndex.Params(16, 50, 50, 1));
        int steps2 = 3 * refreshKills + 6;
        Path run2 = tmp.resolve("run-refresh");
        CrashHarness h2 = new CrashHarness(
                run2,
                t.kb,
                "hnsw",
                CrashRecoveryTest.trainArgs(
                        t, run2, steps2, "--index-type", "hnsw", "--indexing-freq", "2", "--refresh-batch", "8"),
                tmp.resolve("logs2"));
        Point[] p2 = {
            Point.KB_ENCODE, Point.INDEX_BUILD, Point.UNPUBLISHED, Point.CHECKPOINT_WRITE, Point.STEP, Point.TIME
        };
        for (int i = 0; i < refreshKills; i++) {
            Point p = p2[i % p2.length];
            h2.killAt(p, p == Point.TIME ? 2000 + rnd.nextInt(6000) : p == Point.STEP ? rnd.nextInt(400) : 0, 120_000);
        }
        int rc2 = h2.finish(300_000);

        // 3. end-to-end, refresh on, --refresh-publish-lag: deterministic, so killed runs must repeat the
        //    uninterrupted one exactly (losses and the vectors each step retrieved from); kills during steps,
        //    during a refresh that spans a checkpoint, between a publish and the next checkpoint, ...
        int lagKills = Integer.getInteger("soak.lagKills", 12);
        int steps3 = 2 * lagKills + 8;
        TinyRag r3 = TinyRag.create(tmp.resolve("lag-ref"), 8, 40, 0.0f);
        TinyRag t3 = TinyRag.create(tmp.resolve("lag-run"), 8, 40, 0.0f);
        Path ref3 = tmp.resolve("ref-lag");
        assertEquals(
                0,
                dev.rage2e.cli.Main.run(
                        CrashRecoveryTest.lagArgs(r3, ref3, steps3).toArray(new String[0])));
        TreeMap<Integer, Double> expected3 = CrashHarness.losses(ref3.resolve("metrics.jsonl"));
        Path run3 = tmp.resolve("run-lag");
        CrashHarness h3 = new CrashHarness(
                run3, t3.kb, "flat", CrashRecoveryTest.lagArgs(t3, run3, steps3), tmp.resolve("logs3"));
        Point[] p3 = {
            Point.REFRESH_RUNNING, Point.PUBLISHED, Point.STEP, Point.KB_ENCODE, Point.CHECKPOINT_WRITE, Point.TIME
        };
        for (int i = 0; i < lagKills; i++) {
            Point p = p3[i % p3.length];
            h3.killAt(p, p == Point.TIME ? 2000 + rnd.nextInt(6000) : p == Point.STEP ? rnd.nextInt(400) : 0, 120_000);
        }
        int rc3 = h3.finish(300_000);
        double maxLossDiff3 = 0;
        TreeMap<Integer, Double> actual3 = h3.losses();
        for (Map.Entry<Integer, Double> e : expected3.entrySet()) {
            maxLossDiff3 =
                    Math.max(maxLossDiff3, Math.abs(e.getValue() - actual3.getOrDefault(e.getKey(), Double.NaN)));
        }
        TreeMap<Integer, String> wantEmb = CrashRecoveryTest.embeddingsBySteps(ref3),
                gotEmb = CrashRecoveryTest.embeddingsBySteps(run3);
        long embMismatches = wantEmb.keySet().stream()
                .filter(k -> !wantEmb.get(k).equals(gotEmb.get(k)))
                .count();

        ObjectNode summary = Json.MAPPER.createObjectNode();
        ObjectNode a = h1.summary();
        ObjectNode b = h2.summary();
        ObjectNode c = h3.summary();
        summary.put(
                "kill_points_tried",
                a.get("kill_points_tried").asInt()
                        + b.get("kill_points_tried").asInt()
                        + c.get("kill_points_tried").asInt());
        summary.put(
                "kill_points_survived",
                a.get("kill_points_survived").asInt()
                        + b.get("kill_points_survived").asInt()
                        + c.get("kill_points_survived").asInt());
        summary.put(
                "not_reached",
                a.get("not_reached").asInt()
                        + b.get("not_reached").asInt()
                        + c.get("not_reached").asInt());
        summary.put("max_abs_loss_diff_vs_uninterrupted", Math.max(maxLossDiff, maxLossDiff3));
        a.put("steps", steps1);
        a.put("final_exit_code", rc1);
        a.put("loss_steps_compared", expected.size());
        a.put("max_abs_loss_diff_vs_uninterrupted", maxLossDiff);
        a.put("train_events_logged", h1.trainEvents().size());
        a.put("leftovers", h1.leftovers().size());
        b.put("steps", steps2);
        b.put("final_exit_code", rc2);
        b.put("final_step", Checkpoints.readState(Checkpoints.resolve(run2)).step);
        b.put("leftovers", h2.leftovers().size());
        String kb = h2.checkKb();
        b.put("kb_check", kb == null ? "ok" : kb);
        c.put("steps", steps3);
        c.put("final_exit_code", rc3);
        c.put("loss_steps_compared", expected3.size());
        c.put("max_abs_loss_diff_vs_uninterrupted", maxLossDiff3);
        c.put("steps_on_other_embeddings_than_uninterrupted", embMismatches);
        c.put("train_events_logged", h3.trainEvents().size());
        c.put("leftovers", h3.leftovers().size());
        String kb3 = h3.checkKb();
        c.put("kb_check", kb3 == null ? "ok" : kb3);
        summary.set("refresh_none", a);
        summary.set("refresh_async_hnsw", b);
        summary.set("refresh_async_publish_lag", c);
        String json = Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(summary);
        System.out.println(json);
        Files.writeString(Path.of("target", "crash-soak.json"), json);

        assertEquals(0, rc1);
        assertEquals(0, rc2);
        assertTrue(summary.get("kill_points_tried").asInt() >= 20, json);
        assertEquals(
                summary.get("kill_points_tried").asInt(),
                summary.get("kill_points_survived").asInt(),
                json);
        assertTrue(maxLossDiff < 1e-3, json);
        assertEquals(steps1, h1.trainEvents().size(), json);
        assertEquals(List.of(), h1.leftovers());
        assertEquals(List.of(), h2.leftovers());
        assertEquals(null, kb);
        assertEquals(0, rc3);
        assertEquals(steps3, expected3.size());
        assertEquals(expected3.keySet(), actual3.keySet(), json);
        assertEquals(0.0, maxLossDiff3, json);
        assertEquals(0, embMismatches, json);
        assertEquals(steps3, h3.trainEvents().size(), json);
        assertEquals(List.of(), h3.leftovers());
        assertEquals(null, kb3);
    }
}
