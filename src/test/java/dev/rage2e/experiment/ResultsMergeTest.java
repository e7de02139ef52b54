package dev.rage2e.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs of experiments made apart stand in one report only when they were made the same way. */
class ResultsMergeTest {
    @TempDir
    Path dir;

    private Path results(
            String name, String root, double stageMinutes, long[] seeds, double[] em, Consumer<ObjectNode> edit)
            throws Exception {
        ObjectNode doc = Json.MAPPER.createObjectNode();
        ObjectNode setup = doc.putObject("setup");
        setup.put("command", "./rag experiment squad-kb --seeds " + seeds[0]);
        setup.put("split", "splits.json");
        setup.put("kb_passages", 6176);
        setup.put("test_questions_em", 300);
        setup.put("reader_stage_minutes", stageMinutes);
        setup.put("budget_minutes", 30.0);
        TrainConfig c = new TrainConfig();
        c.generator = root + "/reader-stage/run/checkpoint-000343/generator";
        c.questionEncoder = root + "/models/all-minilm-l6-v2";
        c.kb = root + "/seed-1/end2end/kb";
        c.lr = 1e-4f;
        doc.set("config", Json.MAPPER.valueToTree(c));
        doc.putObject("reader_gold_passage")
                .put("em", 0.49)
                .put("f1", 0.63)
                .put("questions", 300)
                .put("steps", 343)
                .put("minutes", stageMinutes)
                .put("reader", "span");
        var runs = doc.putArray("runs");
        for (int i = 0; i < seeds.length; i++)
            for (String mode : List.of("end2end", "original")) {
                ObjectNode r =
                        runs.addObject().put("mode", mode).put("seed", seeds[i]).put("steps", 200);
                r.putObject("before").put("em", 0.27).put("recall@5", 0.815);
                r.putObject("after")
                        .put("em", em[i] + (mode.equals("end2end") ? 0.02 : 0))
                        .put("recall@5", 0.85);
            }
        doc.put("total_minutes", 70.0);
        edit.accept(doc);
        Path f = Files.createDirectories(dir.resolve(name)).resolve("results.json");
        Json.writeFile(f, doc);
        return f;
    }

    private Path earlier() throws Exception {
        return results(
                "a", "/work/main/runs/squad-kb-30", 15, new long[] {1, 2, 3}, new double[] {0.30, 0.33, 0.29}, d -> {});
    }

    @Test
    void runsOfTheSameRecipeFromOtherFoldersAndAReplayedStageMakeOneReport() throws Exception {
        // another machine's paths, and a reader stage replayed to the same step count under another minute cap
        Path later = results("b", "/elsewhere", 20, new long[] {4}, new double[] {0.31}, d -> {});
        ObjectNode merged = ResultsMerge.merge(List.of(earlier(), later));
        assertEquals(8, merged.path("runs").size());
        assertEquals(140.0, merged.path("total_minutes").asDouble(), 1e-9);
        SquadKbReport.write(dir, merged);
        JsonNode doc = Json.read(dir.resolve("results.json"));
        assertEquals(4, doc.path("original").path("seeds").asInt());
        assertEquals(
                (0.30 + 0.33 + 0.29 + 0.31) / 4, doc.path("original").path("em").asDouble(), 1e-9);
        assertEquals(0.04, doc.path("end2end").path("spread").path("em").asDouble(), 1e-9);
        String md = Files.readString(dir.resolve("report.md"));
        assertTrue(md.contains("rag experiment merge") && md.contains("--seeds 4"), md);
    }

    @Test
    void refusesAnotherRecipeReaderStageStartOrARunTwice() throws Exception {
        Path a = earlier();
        List<Consumer<ObjectNode>> others = List.of(
                d -> ((ObjectNode) d.get("config")).put("lr", 3e-4),
                d -> ((ObjectNode) d.get("reader_gold_passage")).put("em", 0.48),
                d -> ((ObjectNode) d.get("reader_gold_passage")).put("steps", 300),
                d -> ((ObjectNode) d.get("setup")).put("budget_minutes", 20.0),
                d -> ((ObjectNode) d.get("runs").get(0).get("before")).put("recall@5", 0.816));
        for (int i = 0; i < others.size(); i++) {
            Path b = results("other-" + i, "/elsewhere", 15, new long[] {4}, new double[] {0.31}, others.get(i));
            UserException e = assertThrows(UserException.class, () -> ResultsMerge.merge(List.of(a, b)));
            assertTrue(e.getMessage().contains("made another way"), e.getMessage());
        }
        Path again = results("again", "/elsewhere", 15, new long[] {3}, new double[] {0.31}, d -> {});
        UserException e = assertThrows(UserException.class, () -> ResultsMerge.merge(List.of(a, again)));
        assertTrue(e.getMessage().contains("seed 3, end2end is in an earlier file"), e.getMessage());
    }
}
