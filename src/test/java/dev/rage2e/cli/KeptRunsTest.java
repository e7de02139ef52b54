package dev.rage2e.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.util.Json;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Re-running an experiment with more seeds keeps the finished runs only when they were made the same way. */
class KeptRunsTest {
    @TempDir
    Path dir;

    private static ObjectNode setup(double budget) {
        ObjectNode s = Json.MAPPER.createObjectNode();
        s.put("split", "splits.json");
        s.put("kb_passages", 6176);
        s.put("budget_minutes", budget);
        s.put("generator", "span reader");
        return s;
    }

    private static TrainConfig config(long seed, String mode, String kb, float lr) {
        TrainConfig c = new TrainConfig();
        c.seed = seed;
        c.mode = dev.rage2e.util.Choice.parse(TrainConfig.Mode.class, "mode", mode);
        c.kb = kb;
        c.lr = lr;
        return c;
    }

    private Path results(double budget, float lr) throws Exception {
        ObjectNode doc = Json.MAPPER.createObjectNode();
        doc.set("setup", setup(budget));
        doc.set("config", Json.MAPPER.valueToTree(config(1, "original", "seed-1/original/kb", lr)));
        doc.putArray("runs").addObject().put("seed", 1).put("mode", "original").put("steps", 579);
        Path f = dir.resolve("results.json");
        Json.writeFile(f, doc);
        return f;
    }

    @Test
    void keepsRunsOfTheSameSetupWhateverTheirSeedModeAndKbCopy() throws Exception {
        List<JsonNode> kept = SquadKbExperimentCommand.keptRuns(
                results(30, 1e-4f), setup(30), config(2, "end2end", "seed-2/end2end/kb", 1e-4f));
        assertEquals(1, kept.size());
        assertEquals(579, kept.get(0).path("steps").asInt());
    }

    @Test
    void aConfigKeyAddedSinceCountsAsEqualAtItsDefault() throws Exception {
        Path f = results(30, 1e-4f);
        ObjectNode doc = (ObjectNode) Json.read(f);
        ((ObjectNode) doc.get("config")).remove("refresh-batch"); // as if results.json predates the key
        Json.writeFile(f, doc);
        assertEquals(
                1,
                SquadKbExperimentCommand.keptRuns(f, setup(30), config(2, "end2end", "k", 1e-4f))
                        .size());
        TrainConfig changed = config(2, "end2end", "k", 1e-4f);
        changed.refreshBatch = 7;
        assertTrue(SquadKbExperimentCommand.keptRuns(f, setup(30), changed).isEmpty());
    }

    @Test
    void dropsThemWhenTheBudgetOrTheRecipeDiffers() throws Exception {
        assertTrue(SquadKbExperimentCommand.keptRuns(results(30, 1e-4f), setup(20), config(1, "original", "k", 1e-4f))
                .isEmpty());
        assertTrue(SquadKbExperimentCommand.keptRuns(results(30, 1e-4f), setup(30), config(1, "original", "k", 3e-4f))
                .isEmpty());
        assertTrue(SquadKbExperimentCommand.keptRuns(
                        dir.resolve("absent.json"), setup(30), config(1, "original", "k", 1e-4f))
                .isEmpty());
    }
}
