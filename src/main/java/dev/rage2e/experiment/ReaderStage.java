package dev.rage2e.experiment;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.eval.AnswerEval;
import dev.rage2e.qa.QaExample;
import dev.rage2e.rag.RagDecoder;
import dev.rage2e.run.TrainingRun;
import dev.rage2e.train.Checkpoints;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The reader stage both RAG modes start from: the reader (span reader or generator) trained alone on the gold
 * passages of the training questions for a fixed budget (no retrieval, encoders frozen), then judged on the gold
 * passages of held-out questions. Cached in its folder and reused when the same recipe asks for it again, so every
 * mode and seed of an experiment starts from the very same reader.
 */
public final class ReaderStage {
    public record Result(Path reader, ObjectNode report) {}

    private final PrintStream log;

    public ReaderStage(PrintStream log) {
        this.log = log;
    }

    /**
     * @param cfg a reader-only training config (the caller sets models, KB, data and recipe; this sets readerOnly)
     * @param goldEval questions whose gold passages judge the reader afterwards
     */
    public Result run(TrainConfig cfg, Path dir, List<QaExample> goldEval) throws IOException, InterruptedException {
        cfg.readerOnly = true;
        cfg.mode = TrainConfig.Mode.ORIGINAL;
        cfg.evalQuestions = 0;
        String key = Json.write(Json.MAPPER.valueToTree(cfg)) + "|eval=" + goldEval.size() + ":"
                + (goldEval.isEmpty() ? "" : goldEval.get(0).id());
        Result cached = cached(dir, key);
        if (cached != null) return cached;
        // one folder per recipe: a stage trained for another recipe stays
        // (earlier runs' results may point at its reader)
        String id = recipeId(key);
        Path result = dir.resolve("reader-stage-" + id + ".json");
        Path runDir = dir.resolve("run-" + id);
        if (Files.exists(runDir)) AtomicFiles.deleteTree(runDir); // an interrupted stage of this very recipe
        Files.createDirectories(dir);
        log.printf("rag: reader stage: %s on gold passages for %.1f min%n", cfg.generator, cfg.maxMinutes);
        ObjectNode report = Json.MAPPER.createObjectNode();
        try (TrainingRun run = TrainingRun.open(cfg, runDir, false);
                NDManager m = NDManager.newBaseManager()) {
            run.run(Integer.MAX_VALUE);
            RagDecoder decoder = new RagDecoder(
                    run.model(),
                    new RagDecoder.Options(cfg.numBeams, cfg.maxAnswerLength),
                    RagDecoder.defaultMode(run.model().settings.kind()),
                    cfg.spanScore);
            AnswerEval.Report r = AnswerEval.run(
                    run.model(),
                    decoder,
                    run.retriever(),
                    goldEval,
                    32,
                    new int[0],
                    dir.resolve("predictions-gold.jsonl"),
                    m,
                    null,
                    true);
            report.put("em", r.em());
            report.put("f1", r.f1());
            report.put("questions", r.questions());
            report.put(
                    "minutes",
                    (run.trainer().state().trainSeconds - run.trainer().excludedSeconds()) / 60);
            report.put("steps", run.trainer().state().step);
            report.put("reader", run.model().readerKind());
            log.printf(
                    "rag: reader stage done: %d steps, gold-passage EM %.3f F1 %.3f on %d held-out questions%n",
                    run.trainer().state().step, r.em(), r.f1(), r.questions());
        }
        Path reader = Checkpoints.resolve(runDir).resolve("generator");
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("key", key);
        o.put("reader", reader.toString());
        o.set("gold_passage", report);
        AtomicFiles.writeString(result, Json.pretty(o));
        return new Result(reader, report);
    }

    /**
     * A finished stage of this recipe in {@code dir} ({@code reader-stage*.json}
     * whose key matches and whose reader exists), or null.
     */
    private Result cached(Path dir, String key) throws IOException {
        if (!Files.isDirectory(dir)) return null;
        List<Path> found;
        try (var files = Files.list(dir)) {
            found = files.filter(f -> f.getFileName().toString().matches("reader-stage.*\\.json"))
                    .sorted()
                    .toList();
        }
        for (Path f : found) {
            JsonNode prev = Json.read(f);
            Path reader = Path.of(prev.path("reader").asText());
            if (key.equals(prev.path("key").asText()) && Files.isRegularFile(reader.resolve("config.json"))) {
                log.printf(
                        "rag: reusing the reader stage in %s (gold-passage EM %.3f)%n",
                        dir, prev.path("gold_passage").path("em").asDouble());
                return new Result(reader, (ObjectNode) prev.path("gold_passage"));
            }
        }
        if (!found.isEmpty())
            log.printf("rag: %s holds reader stages of other recipes (kept); training one for this recipe%n", dir);
        return null;
    }

    static String recipeId(String key) {
        try {
            byte[] h = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(key.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(h, 0, 6);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The span reader's stage recipe: {@code preset} (a file), else the shipped {@code presets/span-reader-stage.yaml}
     * (the span reader anchor's: HF BertForQuestionAnswering on SQuAD, batch 16, lr 1e-4, 100 warm-up steps).
     */
    public static void spanRecipe(TrainConfig c, String preset) {
        c.overlay(preset != null ? preset : "span-reader-stage");
    }
}
