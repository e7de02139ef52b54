package dev.rage2e.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The experiment's and the demo's recipes are YAML presets shipped in the jar; a user's edited copy replaces one. */
class PresetsTest {
    @TempDir
    Path tmp;

    @Test
    void shippedPresetsSetTheirRecipesAndLeaveOtherKeys() {
        TrainConfig e = new TrainConfig();
        e.nDocs = 7;
        e.overlay("experiment");
        assertEquals(LrSchedule.Kind.LINEAR, e.scheduler);
        assertEquals(1_000_000, e.maxSteps);
        assertEquals(10, e.warmupSteps);
        assertEquals(12, e.maxAnswerLength);
        assertEquals(0, e.evalQuestions);
        assertEquals(1, e.keepCheckpoints);
        assertEquals(7, e.nDocs, "a key the preset does not name keeps its value");

        TrainConfig s = new TrainConfig().overlay("span-reader-stage");
        assertEquals(16, s.batchSize);
        assertEquals(3e-4f, s.lr);
        assertEquals(LrSchedule.Kind.LINEAR, s.scheduler);
        assertEquals(100, s.warmupSteps);
        assertEquals(0.01f, s.weightDecay);
        assertEquals(1f, s.maxGradNorm);
        assertEquals(256, s.maxCombinedLength);

        TrainConfig d = new TrainConfig().overlay("demo");
        assertEquals(1, d.numBeams);
        assertEquals(5, d.logEvery);
        for (String name : TrainConfig.SHIPPED_PRESETS) new TrainConfig().overlay(name); // each parses
    }

    @Test
    void anEditedCopyReplacesTheShippedPreset() throws Exception {
        Path mine = tmp.resolve("my-experiment.yaml");
        Files.writeString(mine, "# fewer warm-up steps\nwarmup-steps: 3\nscheduler: linear\n");
        TrainConfig c = new TrainConfig().overlay(mine.toString());
        assertEquals(3, c.warmupSteps);
        assertEquals(LrSchedule.Kind.LINEAR, c.scheduler);
        assertEquals(new TrainConfig().maxSteps, c.maxSteps, "the shipped preset is not applied underneath");
    }

    @Test
    void badPresetsAreOneLineErrors() throws Exception {
        Path bad = tmp.resolve("bad.yaml");
        Files.writeString(bad, "warmup-steps: 3\nwarmup-stepz: 4\n");
        UserException e = assertThrows(UserException.class, () -> new TrainConfig().overlay(bad.toString()));
        assertTrue(
                e.getMessage().contains("bad.yaml:2") && e.getMessage().contains("unknown config key 'warmup-stepz'"),
                e.getMessage());
        UserException missing = assertThrows(UserException.class, () -> new TrainConfig().overlay("no-such-preset"));
        assertTrue(
                missing.getMessage().contains("no-such-preset: no such preset file")
                        && missing.getMessage().contains("experiment"),
                missing.getMessage());
    }
}
