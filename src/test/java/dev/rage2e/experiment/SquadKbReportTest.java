package dev.rage2e.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.qa.QaExample;
import dev.rage2e.run.TrainingRun;
import dev.rage2e.util.Json;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SquadKbReportTest {
    @TempDir
    Path dir;

    private static ObjectNode run(String mode, long seed, double em, double r5, int steps) {
        ObjectNode r = Json.MAPPER.createObjectNode();
        r.put("mode", mode);
        r.put("seed", seed);
        r.put("steps", steps);
        r.put("minutes", 1.5);
        ObjectNode after = r.putObject("after");
        after.put("em", em);
        after.put("f1", em + 0.1);
        after.put("recall@1", r5 - 0.2);
        after.put("recall@5", r5);
        after.put("recall@20", r5 + 0.1);
        ObjectNode before = r.putObject("before");
        for (String k : SquadKbReport.METRICS) before.put(k, 0.01);
        ArrayNode c = r.putArray("curve");
        for (int s = 0; s <= steps; s += steps / 2)
            c.addObject().put("step", s).put("em", em * s / steps).put("sample_recall@5", r5);
        return r;
    }

    @Test
    void aggregatesMeanAndSpreadPerModeAndWritesAllThreeFiles() throws Exception {
        ObjectNode results = Json.MAPPER.createObjectNode();
        results.putObject("setup").put("command", "./rag experiment squad-kb ...");
        ArrayNode runs = results.putArray("runs");
        runs.add(run("original", 1, 0.10, 0.50, 40));
        runs.add(run("end2end", 1, 0.20, 0.60, 30));
        runs.add(run("original", 2, 0.14, 0.54, 42));
        runs.add(run("end2end", 2, 0.22, 0.66, 32));
        SquadKbReport.write(dir, results);

        JsonNode doc = Json.read(dir.resolve("results.json"));
        assertEquals(0.12, doc.path("original").path("em").asDouble(), 1e-9);
        assertEquals(0.04, doc.path("original").path("spread").path("em").asDouble(), 1e-9);
        assertEquals(0.63, doc.path("end2end").path("recall@5").asDouble(), 1e-9);
        assertEquals(31, doc.path("end2end").path("steps").asDouble(), 1e-9);
        assertEquals(2, doc.path("end2end").path("per_seed").size());
        for (String k : SquadKbReport.METRICS) assertTrue(doc.path("end2end").has(k), k);
        String md = Files.readString(dir.resolve("report.md"));
        assertTrue(md.contains("| end2end | 0.210 ± 0.020"), md);
        BufferedImage png = ImageIO.read(dir.resolve("curves.png").toFile());
        assertTrue(png.getWidth() > 500 && png.getHeight() > 300);
        // the lines are drawn: both series colours occur in the image
        boolean red = false, blue = false;
        for (int x = 0; x < png.getWidth(); x++) {
            for (int y = 0; y < png.getHeight(); y++) {
                int rgb = png.getRGB(x, y) & 0xffffff;
                red |= rgb == 0xc82828;
                blue |= rgb == 0x2850c8;
            }
        }
        assertTrue(red && blue, "both modes plotted");
        try (var s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".tmp")), "no temp files left");
        }
    }

    @Test
    void spreadSampleIsEvenlySpacedAndDeterministic() {
        List<QaExample> qs = new ArrayList<>();
        for (int i = 0; i < 10; i++) qs.add(new QaExample("q" + i, "question " + i, List.of("a"), "t" + i / 5));
        List<QaExample> s = TrainingRun.sample(qs, 4, true);
        assertEquals(
                List.of("q0", "q2", "q5", "q7"), s.stream().map(QaExample::id).toList());
        assertEquals(
                List.of("q0", "q1"),
                TrainingRun.sample(qs, 2, false).stream().map(QaExample::id).toList());
        assertEquals(10, TrainingRun.sample(qs, 50, true).size());
    }

    @Test
    void sameStepsEvaluationsAggregateOverTheSeedsThatHaveThem() throws Exception {
        ObjectNode results = Json.MAPPER.createObjectNode();
        results.putObject("setup").put("command", "./rag experiment squad-kb ...");
        ArrayNode runs = results.putArray("runs");
        runs.add(run("original", 1, 0.10, 0.50, 40)); // run first in its seed: no same-steps point
        for (long seed = 2; seed <= 3; seed++) {
            runs.add(run("end2end", seed, 0.20, 0.60, 30));
            ObjectNode o = run("original", seed, 0.14, 0.54, 42);
            ObjectNode at = o.putObject("same_steps");
            at.put("steps", 30);
            at.put("minutes", 1.0);
            for (String k : SquadKbReport.METRICS) at.put(k, seed == 2 ? 0.08 : 0.12);
            runs.add(o);
        }
        SquadKbReport.write(dir, results);
        JsonNode same = Json.read(dir.resolve("results.json")).path("original").path("same_steps");
        assertEquals(2, same.path("seeds").asInt());
        assertEquals(0.10, same.path("em").asDouble(), 1e-9);
        assertEquals(0.04, same.path("spread").path("recall@5").asDouble(), 1e-9);
        assertEquals(30, same.path("steps").asDouble(), 1e-9);
        assertTrue(Json.read(dir.resolve("results.json"))
                .path("end2end")
                .path("same_steps")
                .isMissingNode());
        String md = Files.readString(dir.resolve("report.md"));
        assertTrue(md.contains("| original at the other mode's steps | 0.100 ± 0.040"), md);
    }
}
