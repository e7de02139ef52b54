package dev.rage2e.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a killed run leaves in its folder is deleted when a run next cleans it; nothing else is. */
class CheckpointsCleanupTest {
    @TempDir
    Path run;

    @Test
    void tempsOfKilledWritesGoAndEverythingElseStays() throws Exception {
        // killed while replacing the latest pointer (an atomic write's temp file) and while writing a checkpoint
        Files.writeString(run.resolve(".latest.tmp-" + UUID.randomUUID()), "checkpoint-000004");
        Files.createDirectories(run.resolve(".tmp-checkpoint-000004-" + UUID.randomUUID()));
        Files.createDirectories(run.resolve("checkpoint-000002"));
        Files.writeString(run.resolve("metrics.jsonl"), "{}\n");
        Files.writeString(run.resolve(".notes.tmp-mine"), "a user's file, not ours");
        Checkpoints.cleanup(run, Integer.MAX_VALUE);
        TreeSet<String> left = new TreeSet<>();
        try (Stream<Path> s = Files.list(run)) {
            s.forEach(p -> left.add(p.getFileName().toString()));
        }
        assertEquals(new TreeSet<>(List.of(".notes.tmp-mine", "checkpoint-000002", "metrics.jsonl")), left);
    }
}
