package dev.rage2e.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One report from experiments run apart (other seeds on another machine or in another session): their runs stand in
 * one table only when they were made the same way. Paths may differ (the folders of another machine); what they
 * stand for must not: the same setup and recipe, the same reader stage (its gold-passage result and step count, when
 * a stage was trained, instead of its minute budget, so a stage replayed to the same step count on a slower machine
 * counts) and the same starting point (the evaluation before training, equal to the last digit).
 */
public final class ResultsMerge {
    private ResultsMerge() {}

    /** The merged results (setup, config and reader stage of the first file; every file's runs). */
    public static ObjectNode merge(List<Path> files) {
        if (files.size() < 2) throw new UserException("experiment merge: give at least two results.json files");
        ObjectNode first = (ObjectNode) Json.read(files.get(0));
        ObjectNode out = first.deepCopy();
        for (String mode : SquadKbReport.MODES) out.remove(mode); // aggregates: recomputed from the runs
        out.remove(List.of("kept_runs_minutes", "merged_from"));
        ArrayNode from = out.putArray("merged_from");
        ArrayNode runs = out.putArray("runs");
        Set<String> seen = new HashSet<>();
        double minutes = 0;
        for (Path f : files) {
            JsonNode doc = f.equals(files.get(0)) ? first : Json.read(f);
            if (!doc.path("runs").isArray() || doc.path("runs").isEmpty())
                throw new UserException(f + ": no runs (not an experiment's results.json?)");
            boolean stage = first.has("reader_gold_passage") || doc.has("reader_gold_passage");
            String d = SameSetup.difference(
                    first.path("setup"),
                    first.path("config"),
                    doc.path("setup"),
                    doc.path("config"),
                    stage ? Set.of("reader_stage_minutes") : Set.of(),
                    SameSetup.PATHS);
            if (d == null && stage)
                d = sameReaderStage(first.path("reader_gold_passage"), doc.path("reader_gold_passage"));
            if (d == null)
                d = sameStart(
                        first.path("runs").get(0).path("before"),
                        doc.path("runs").get(0).path("before"));
            if (d != null) throw new UserException(f + ": made another way than " + files.get(0) + ": " + d);
            for (JsonNode r : doc.path("runs")) {
                String key = "seed " + r.path("seed").asLong() + ", "
                        + r.path("mode").asText();
                if (!seen.add(key)) throw new UserException(f + ": " + key + " is in an earlier file too");
                runs.add(r);
            }
            minutes += doc.path("total_minutes").asDouble()
                    + doc.path("kept_runs_minutes").asDouble();
            from.addObject()
                    .put("file", f.toString())
                    .put("command", doc.path("setup").path("command").asText())
                    .put("runs", doc.path("runs").size());
        }
        out.put("total_minutes", minutes);
        return out;
    }

    private static String sameReaderStage(JsonNode a, JsonNode b) {
        for (String k : new String[] {"steps", "questions", "em", "f1", "reader"})
            if (!a.path(k).equals(b.path(k)))
                return "reader stage '" + k + "' (" + a.path(k) + " there, " + b.path(k) + " here)";
        return null;
    }

    private static String sameStart(JsonNode a, JsonNode b) {
        for (String k : SquadKbReport.METRICS)
            if (Math.abs(a.path(k).asDouble(Double.NaN) - b.path(k).asDouble(Double.NaN)) > 1e-9
                    || a.path(k).isMissingNode() != b.path(k).isMissingNode())
                return "before training '" + k + "' (" + a.path(k) + " there, " + b.path(k) + " here)";
        return null;
    }
}
