package dev.rage2e.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns the SQuAD-KB experiment's per-run results into {@code results.json} (one object per mode with
 * the seed mean, the spread between seeds and every seed's numbers), {@code report.md} and
 * {@code curves.png}; every file is written atomically.
 */
public final class SquadKbReport {
    static final String[] METRICS = {"em", "f1", "recall@1", "recall@5", "recall@20"};
    static final String[] MODES = {"original", "end2end"};

    private SquadKbReport() {}

    public static void write(Path dir, ObjectNode results) throws IOException {
        ObjectNode doc = results.deepCopy();
        for (String mode : MODES) {
            ObjectNode agg = aggregate(results, mode);
            if (agg != null) doc.set(mode, agg);
        }
        Json.writeFile(dir.resolve("results.json"), doc);
        AtomicFiles.writeString(dir.resolve("report.md"), markdown(doc));
        plot(doc, dir.resolve("curves.png"));
    }

    /** The per-mode objects only (what the command prints). */
    public static ObjectNode summary(ObjectNode results) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        for (String mode : MODES) {
            ObjectNode agg = aggregate(results, mode);
            if (agg == null) continue;
            ObjectNode m = agg.deepCopy();
            m.remove("per_seed");
            o.set(mode, m);
        }
        return o;
    }

    static ObjectNode aggregate(JsonNode results, String mode) {
        List<JsonNode> rs = new ArrayList<>();
        for (JsonNode r : results.path("runs")) if (r.path("mode").asText().equals(mode)) rs.add(r);
        if (rs.isEmpty()) return null;
        ObjectNode o = Json.MAPPER.createObjectNode();
        ObjectNode spread = Json.MAPPER.createObjectNode();
        ObjectNode before = Json.MAPPER.createObjectNode();
        List<JsonNode> after = new ArrayList<>(), befores = new ArrayList<>();
        for (JsonNode r : rs) {
            after.add(r.path("after"));
            befores.add(r.path("before"));
        }
        meanAndSpread(after, o, spread);
        meanAndSpread(befores, before, null);
        o.put("steps", mean(rs, "steps"));
        o.put("minutes", mean(rs, "minutes"));
        o.put("seeds", rs.size());
        o.set("spread", spread); // max - min over seeds (0 with one seed)
        o.set("before", before);
        ObjectNode sameSteps = sameSteps(rs);
        if (sameSteps != null) o.set("same_steps", sameSteps);
        ArrayNode per = o.putArray("per_seed");
        for (JsonNode r : rs) {
            ObjectNode p = per.addObject();
            p.put("seed", r.path("seed").asLong());
            for (String k : METRICS) p.put(k, r.path("after").path(k).asDouble());
            p.put("steps", r.path("steps").asInt());
            p.put("minutes", r.path("minutes").asDouble());
            p.put("refreshes_published", r.path("refreshes_published").asInt());
            if (r.has("same_steps")) p.set("same_steps", r.get("same_steps"));
            ObjectNode b = p.putObject("before");
            for (String k : METRICS) b.put(k, r.path("before").path(k).asDouble());
        }
        return o;
    }

    /** Mean and spread of the runs' evaluations at the other mode's step count (null when no run has one). */
    static ObjectNode sameSteps(List<JsonNode> rs) {
        List<JsonNode> at = new ArrayList<>();
        for (JsonNode r : rs) if (r.has("same_steps")) at.add(r.get("same_steps"));
        if (at.isEmpty()) return null;
        ObjectNode o = Json.MAPPER.createObjectNode();
        meanAndSpread(at, o, o.putObject("spread"));
        o.put("steps", mean(at, "steps"));
        o.put("minutes", mean(at, "minutes"));
        o.put("seeds", at.size());
        return o;
    }

    /** Per metric: the mean over {@code evals} into {@code mean}, and max - min into {@code spread} (when not null). */
    private static void meanAndSpread(List<JsonNode> evals, ObjectNode mean, ObjectNode spread) {
        for (String k : METRICS) {
            double sum = 0, min = Double.MAX_VALUE, max = -Double.MAX_VALUE;
            for (JsonNode e : evals) {
                double v = e.path(k).asDouble();
                sum += v;
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            mean.put(k, sum / evals.size());
            if (spread != null) spread.put(k, max - min);
        }
    }

    private static double mean(List<JsonNode> nodes, String field) {
        double sum = 0;
        for (JsonNode n : nodes) sum += n.path(field).asDouble();
        return sum / nodes.size();
    }

    /** "SQuAD-KB" for the preset split, else the data files the command named (a user's own domain). */
    static String dataName(JsonNode setup) {
        String cmd = setup.path("command").asText();
        int i = cmd.indexOf("--data ");
        if (i < 0) return "SQuAD-KB";
        List<String> files = new java.util.ArrayList<>();
        for (String w : cmd.substring(i + 7).split(" ")) {
            if (w.startsWith("--")) break;
            String name = java.nio.file.Path.of(w).getFileName().toString();
            files.add(name.endsWith(".json") ? name.substring(0, name.length() - 5) : name);
        }
        return String.join(" + ", files);
    }

    static String markdown(JsonNode doc) {
        JsonNode s = doc.path("setup");
        StringBuilder b = new StringBuilder();
        b.append("# ").append(dataName(s)).append(": original vs end-to-end RAG at CPU scale\n\n");
        if (doc.path("merged_from").isArray()) {
            b.append("Merged with `rag experiment merge` from runs made the same way (setup, recipe, reader stage and "
                    + "evaluation before training checked equal):\n\n");
            for (JsonNode f : doc.path("merged_from"))
                b.append(String.format(
                        "- `%s` (%d runs): `%s`%n",
                        f.path("file").asText(),
                        f.path("runs").asInt(),
                        f.path("command").asText()));
            b.append("\n");
        } else b.append("Command: `").append(s.path("command").asText()).append("`\n\n");
        b.append(String.format(
                "KB: %d passages (100 words, with titles). Training questions: %d. EM/F1: %d test "
                        + "questions (%s). "
                        + "Recall@k: all %d test questions. Budget: %.2f training minutes per mode and seed "
                        + "(evaluation "
                        + "excluded). Machine: %d "
                        + "cores "
                        + "(shared).%n%n",
                s.path("kb_passages").asInt(),
                s.path("train_questions").asInt(),
                s.path("test_questions_em").asInt(),
                s.path("em_sample").asText(),
                s.path("test_questions_recall").asInt(),
                s.path("budget_minutes").asDouble(),
                s.path("cores").asInt()));
        b.append("Retriever: ")
                .append(s.path("retriever").asText())
                .append(". Reader: ")
                .append(s.path("generator").asText())
                .append(".\n\n");
        JsonNode rg = doc.path("reader_gold_passage");
        if (!rg.isMissingNode()) {
            b.append(String.format(
                    "Reader stage (%.1f min, %d steps on the training questions' gold passages, "
                            + "shared by every run below): "
                            + "EM %.3f, F1 %.3f on the gold passages of the %d EM questions (the reader alone, "
                            + "retrieval "
                            + "aside).%n%n",
                    rg.path("minutes").asDouble(),
                    rg.path("steps").asInt(),
                    rg.path("em").asDouble(),
                    rg.path("f1").asDouble(),
                    rg.path("questions").asInt()));
        }
        b.append("| mode | EM | F1 | recall@1 | recall@5 | recall@20 | steps | minutes | seeds "
                + "|\n|---|---|---|---|---|---|---|---|---|\n");
        boolean any = false;
        for (String mode : MODES) {
            JsonNode a = doc.path(mode);
            if (a.isMissingNode()) continue;
            if (!any) {
                JsonNode bf = a.path("before");
                b.append(String.format(
                        "| before training | %.3f | %.3f | %.3f | %.3f | %.3f | 0 | 0 | |%n",
                        bf.path("em").asDouble(),
                        bf.path("f1").asDouble(),
                        bf.path("recall@1").asDouble(),
                        bf.path("recall@5").asDouble(),
                        bf.path("recall@20").asDouble()));
                any = true;
            }
            JsonNode sp = a.path("spread");
            b.append(String.format(
                    "| %s | %.3f ± %.3f | %.3f ± %.3f | %.3f ± %.3f | %.3f ± %.3f | %.3f ± %.3f | "
                            + "%.0f | %.2f | %d |%n",
                    mode,
                    a.path("em").asDouble(),
                    sp.path("em").asDouble(),
                    a.path("f1").asDouble(),
                    sp.path("f1").asDouble(),
                    a.path("recall@1").asDouble(),
                    sp.path("recall@1").asDouble(),
                    a.path("recall@5").asDouble(),
                    sp.path("recall@5").asDouble(),
                    a.path("recall@20").asDouble(),
                    sp.path("recall@20").asDouble(),
                    a.path("steps").asDouble(),
                    a.path("minutes").asDouble(),
                    a.path("seeds").asInt()));
        }
        for (String mode : MODES) {
            JsonNode a = doc.path(mode).path("same_steps");
            if (a.isMissingNode()) continue;
            JsonNode sp = a.path("spread");
            b.append(String.format(
                    "| %s at the other mode's steps | %.3f ± %.3f | %.3f ± %.3f | %.3f ± %.3f | "
                            + "%.3f ± %.3f | %.3f ± %.3f "
                            + "| %.0f | %.2f | %d "
                            + "|%n",
                    mode,
                    a.path("em").asDouble(),
                    sp.path("em").asDouble(),
                    a.path("f1").asDouble(),
                    sp.path("f1").asDouble(),
                    a.path("recall@1").asDouble(),
                    sp.path("recall@1").asDouble(),
                    a.path("recall@5").asDouble(),
                    sp.path("recall@5").asDouble(),
                    a.path("recall@20").asDouble(),
                    sp.path("recall@20").asDouble(),
                    a.path("steps").asDouble(),
                    a.path("minutes").asDouble(),
                    a.path("seeds").asInt()));
        }
        b.append("\n± is the spread (max − min) between seeds. A row \"at the other mode's steps\" is the same "
                + "runs evaluated when "
                + "they had trained as many steps as the mode run before them in the same seed (equal steps rather "
                + "than equal minutes; "
                + "only seeds run in that order have it).\n\n## Runs\n\n");
        b.append("| seed | mode | steps | minutes | refreshes | loss first→last 10 | EM | recall@5 | s/step fwd "
                + "q/ret/passage/gen, bwd, opt |\n");
        b.append("|---|---|---|---|---|---|---|---|---|\n");
        for (JsonNode r : doc.path("runs")) {
            JsonNode t = r.path("seconds");
            int steps = Math.max(1, r.path("steps").asInt());
            b.append(String.format(
                    "| %d | %s | %d | %.2f | %d | %.2f → %.2f | %.3f | %.3f | %.2f/%.3f/%.2f/%.2f, %.2f, %.2f |%n",
                    r.path("seed").asLong(),
                    r.path("mode").asText(),
                    r.path("steps").asInt(),
                    r.path("minutes").asDouble(),
                    r.path("refreshes_published").asInt(),
                    r.path("loss_first").asDouble(),
                    r.path("loss_last").asDouble(),
                    r.path("after").path("em").asDouble(),
                    r.path("after").path("recall@5").asDouble(),
                    t.path("question_encoding").asDouble() / steps,
                    t.path("retrieval").asDouble() / steps,
                    t.path("passage_encoding").asDouble() / steps,
                    t.path("generator_forward").asDouble() / steps,
                    t.path("backward").asDouble() / steps,
                    t.path("optimizer").asDouble() / steps));
        }
        b.append("\nLearning curves (EM and retrieval recall@5 of the EM sample against training step): "
                + "`curves.png`.\n");
        return b.toString();
    }

    static void plot(JsonNode doc, Path png) throws IOException {
        CurvePlot p =
                new CurvePlot(dataName(doc.path("setup")) + " test sample: original (blue) vs end-to-end (red) RAG");
        for (JsonNode r : doc.path("runs")) {
            boolean e2e = r.path("mode").asText().equals("end2end");
            JsonNode c = r.path("curve");
            double[] x = new double[c.size()], em = new double[c.size()], rec = new double[c.size()];
            for (int i = 0; i < c.size(); i++) {
                x[i] = c.get(i).path("step").asDouble();
                em[i] = c.get(i).path("em").asDouble();
                rec[i] = c.get(i).path("sample_recall@5").asDouble();
            }
            String label = r.path("mode").asText() + " seed " + r.path("seed").asLong();
            Color col = e2e ? new Color(200, 40, 40) : new Color(40, 80, 200);
            boolean dashed = r.path("seed").asLong() % 2 == 0;
            p.add("exact match", new CurvePlot.Series(label, col, dashed, x, em));
            p.add("recall@5", new CurvePlot.Series(label, col, dashed, x, rec));
        }
        p.write(png);
    }
}
