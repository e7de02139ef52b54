package dev.rage2e.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.cli.Main;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.testutil.TinyRag;
import dev.rage2e.train.Checkpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Out of space while checkpointing or publishing embeddings/an index, with a real OS error: the child
 * runs under {@code ulimit -f} (RLIMIT_FSIZE), so writes past the limit fail with EFBIG ("File too
 * large") even as root, where chmod would not stop anything. Expect one clear line naming the path and
 * the previous checkpoint / published version still usable.
 */
class DiskFullTest {
    @TempDir
    Path tmp;

    /** Runs {@code rag ARGS} in a child JVM whose files may not exceed {@code limitKb}; returns exit code, output. */
    static Object[] runLimited(int limitKb, Path log, List<String> args) throws Exception {
        List<String> java = CrashHarness.javaCommand();
        StringBuilder cmd = new StringBuilder("ulimit -f " + limitKb + "; exec");
        for (String a : java) cmd.append(" '").append(a.replace("'", "'\\''")).append("'");
        for (String a : args) cmd.append(" '").append(a.replace("'", "'\\''")).append("'");
        Process p = new ProcessBuilder("bash", "-c", cmd.toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        return new Object[] {p.exitValue(), Files.readString(log)};
    }

    static String lastLine(String out) {
        List<String> l = out.strip().lines().toList();
        return l.isEmpty() ? "" : l.get(l.size() - 1);
    }

    @Test
    void fullDiskWhileCheckpointingAndPublishingKeepsThePreviousStateUsable() throws Exception {
        TinyRag t = TinyRag.create(tmp, 8, 24, 0.0f);
        Path run = tmp.resolve("run");
        List<String> train = new ArrayList<>(CrashRecoveryTest.trainArgs(t, run, 2, "--refresh", "none"));
        assertEquals(0, Main.run(train.toArray(new String[0])));
        Path before = Checkpoints.resolve(run);

        // 1. checkpoint: weights (MBs) exceed a 1 MiB file limit; small files (metrics) still fit
        Object[] r = runLimited(
                1024, tmp.resolve("cp.log"), List.of("train", "--resume", run.toString(), "--max-steps", "4"));
        String msg = lastLine((String) r[1]);
        System.err.println("disk full: " + msg);
        assertEquals(4, r[0], r[1].toString());
        assertTrue(
                msg.startsWith("rag: I/O error: ")
                        && msg.contains(run.resolve("checkpoint-000004").toString())
                        && msg.contains("File too large")
                        && msg.contains("checkpoint-000002 is unchanged"),
                msg);
        assertTrue(!r[1].toString().contains("\tat "), "no stack trace: " + r[1]);
        assertEquals(before, Checkpoints.resolve(run), "latest still names the previous checkpoint");
        try (Stream<Path> s = Files.list(run)) {
            assertTrue(s.noneMatch(f -> f.getFileName().toString().contains(".tmp")), "no partial checkpoint left");
        }
        // the previous checkpoint is usable: training resumes from it (no limit now) and finishes
        assertEquals(0, Main.run("train", "--resume", run.toString(), "--max-steps", "4"));
        assertEquals(4, Checkpoints.readState(Checkpoints.resolve(run)).step);

        // 2. a new embeddings version (kB of vectors) under a 4 KiB limit
        String current = KbVersions.requireCurrent(t.kb);
        r = runLimited(
                4,
                tmp.resolve("enc.log"),
                List.of("kb", "encode", "--kb", t.kb.toString(), "--encoder", t.encoder.toString()));
        msg = lastLine((String) r[1]);
        System.err.println("disk full: " + msg);
        assertEquals(4, r[0], r[1].toString());
        assertTrue(
                msg.contains(t.kb.toString())
                        && msg.contains("File too large")
                        && msg.contains("published version is unchanged"),
                msg);

        // 3. an HNSW index of the current version under the same limit
        r = runLimited(4, tmp.resolve("idx.log"), List.of("index", "build", "--kb", t.kb.toString(), "--type", "hnsw"));
        msg = lastLine((String) r[1]);
        System.err.println("disk full: " + msg);
        assertEquals(4, r[0], r[1].toString());
        assertTrue(msg.contains(t.kb.resolve(current).toString()) && msg.contains("File too large"), msg);

        // the published version is untouched, verifies, and answers searches; nothing temporary is left
        assertEquals(current, KbVersions.requireCurrent(t.kb));
        CrashHarness h = new CrashHarness(run, t.kb, "flat", List.of(), tmp.resolve("logs"));
        assertNull(h.checkKb());
        try (Stream<Path> s = Files.walk(t.kb)) {
            assertEquals(
                    List.of(),
                    s.filter(f -> f.getFileName().toString().contains(".tmp")).toList());
        }
        try (KbRetriever kr = KbRetriever.open(KnowledgeBase.open(t.kb), "flat");
                var snap = kr.acquire()) {
            float[][] q = {new float[kr.dim()]};
            q[0][0] = 1f;
            assertEquals(3, snap.search(q, 3).ids()[0].length);
        }
    }
}
