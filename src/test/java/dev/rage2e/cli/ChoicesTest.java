package dev.rage2e.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.engine.Precision;
import dev.rage2e.rag.RagLoss;
import dev.rage2e.reader.SpanReader;
import dev.rage2e.train.LrSchedule;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.util.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Closed choices are enums spelt by their labels everywhere: flags, config.yaml and the JSON of results.json (so
 * runs written before the enums still compare equal), and a bad flag value is refused while parsing.
 */
class ChoicesTest {
    @TempDir
    Path tmp;

    @Test
    void labelsRoundTripThroughYamlAndJson() throws Exception {
        TrainConfig c = new TrainConfig();
        c.mode = TrainConfig.Mode.END2END;
        c.modelType = RagLoss.Kind.SEQUENCE;
        c.scheduler = LrSchedule.Kind.CONSTANT;
        c.refresh = TrainConfig.Refresh.NONE;
        c.spanScore = SpanReader.SpanScore.SUM;
        c.precision = Precision.Setting.BF16;
        Path yaml = tmp.resolve("config.yaml");
        c.save(yaml);
        String text = Files.readString(yaml);
        for (String line : new String[] {
            "mode: \"end2end\"",
            "model-type: \"rag-sequence\"",
            "scheduler: \"constant\"",
            "refresh: \"none\"",
            "span-score: \"sum\"",
            "precision: \"bf16\""
        }) {
            assertTrue(
                    text.contains(line) || text.contains(line.replace("\"", "")),
                    "config.yaml has " + line + ":\n" + text);
        }
        TrainConfig back = TrainConfig.load(yaml);
        assertEquals(TrainConfig.Mode.END2END, back.mode);
        assertEquals(RagLoss.Kind.SEQUENCE, back.modelType);
        assertEquals(LrSchedule.Kind.CONSTANT, back.scheduler);
        assertEquals(TrainConfig.Refresh.NONE, back.refresh);
        assertEquals(SpanReader.SpanScore.SUM, back.spanScore);
        assertEquals(Precision.Setting.BF16, back.precision);
        var json = Json.MAPPER.valueToTree(c);
        assertEquals("end2end", json.path("mode").asText());
        assertEquals("rag-sequence", json.path("model-type").asText());
        assertEquals(
                TrainConfig.Mode.ORIGINAL,
                Json.MAPPER.treeToValue(Json.MAPPER.readTree("{\"mode\":\"original\"}"), TrainConfig.class).mode);
    }

    @Test
    void aBadFlagValueIsRefusedWithTheLabelsAllowed() {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            rc = Main.run(
                    "train", "--mode", "sideways", "--out", tmp.resolve("run").toString());
        } finally {
            System.setErr(old);
        }
        String msg = err.toString(StandardCharsets.UTF_8);
        assertNotEquals(0, rc);
        assertTrue(msg.contains("--mode") && msg.contains("expected original or end2end, got 'sideways'"), msg);
        assertTrue(Files.notExists(tmp.resolve("run")), "nothing was started");
    }
}
