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
import dev.rage2e.util.Fingerprint;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The reader stage both RAG modes start from: the reader (span reader or generator) trained alone on the gold
 * passages of the training questions for a fixed budget (no retrieval, encoders frozen), then judged on the gold
 * passages of held-out questions. Cached in its folder and reused when the same recipe on the same files asks for it
 * again (there, or from another folder with {@code --reader-stage-from}), so every mode and seed of an experiment,
 * and every arm of a recipe comparison, starts from the very same reader.
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
        return run(cfg, dir, goldEval, List.of());
    }

    /**
     * As {@link #run(TrainConfig, Path, List)}, also reusing a stage of this recipe recorded in one of {@code from}
     * ({@code reader-stage-*.json} files of other experiment folders): the same reader for a recipe comparison run
     * as separate invocations, without training it again.
     */
    public Result run(TrainConfig cfg, Path dir, List<QaExample> goldEval, List<Path> from)
            throws IOException, InterruptedException {
        cfg.readerOnly = true;
        cfg.mode = TrainConfig.Mode.ORIGINAL;
        cfg.evalQuestions = 0;
        String key = key(cfg, goldEval);
        String comparable = comparable(key);
        Result cached = cached(dir, comparable, from);
        if (cached != null) return cached;
        // one folder per recipe: a stage trained for another recipe stays
        // (earlier runs' results may point at its reader)
        String id = recipeId(comparable);
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
     * A finished stage of this recipe in {@code from} or in {@code dir} ({@code reader-stage*.json} whose key is
     * this recipe on the same files and whose reader exists), or null. One found in {@code from} is recorded in
     * {@code dir} too, with where it came from.
     */
    private Result cached(Path dir, String comparable, List<Path> from) throws IOException {
        for (Path f : from) {
            if (!Files.isRegularFile(f)) throw new UserException("--reader-stage-from " + f + ": file not found");
            JsonNode prev = Json.read(f);
            String why = mismatch(prev, comparable);
            if (why != null) {
                log.printf("rag: %s is not reused: %s%n", f, why);
                continue;
            }
            ObjectNode o = prev.deepCopy();
            o.put("reused_from", f.toAbsolutePath().toString());
            Files.createDirectories(dir);
            AtomicFiles.writeString(dir.resolve("reader-stage-" + recipeId(comparable) + ".json"), Json.pretty(o));
            return reuse(f, prev);
        }
        if (!Files.isDirectory(dir)) return null;
        List<Path> found;
        try (var files = Files.list(dir)) {
            found = files.filter(f -> f.getFileName().toString().matches("reader-stage.*\\.json"))
                    .sorted()
                    .toList();
        }
        for (Path f : found) {
            JsonNode prev = Json.read(f);
            if (mismatch(prev, comparable) == null) return reuse(f, prev);
        }
        if (!found.isEmpty())
            log.printf("rag: %s holds reader stages of other recipes (kept); training one for this recipe%n", dir);
        return null;
    }

    /**
     * Why the stage recorded as {@code prev} is not the stage {@code comparable} asks for, in a few words; null
     * when it is (its recipe on its files is {@code comparable} and its reader exists).
     */
    private static String mismatch(JsonNode prev, String comparable) throws IOException {
        Path reader = Path.of(prev.path("reader").asText());
        if (!Files.isRegularFile(reader.resolve("config.json"))) return "its reader " + reader + " is gone";
        String recorded = comparable(prev.path("key").asText());
        return recorded.equals(comparable) ? null : difference(recorded, comparable);
    }

    /** The stage recorded as {@code prev} (read from {@code f}), said and returned. */
    private Result reuse(Path f, JsonNode prev) {
        log.printf(
                "rag: reusing the reader stage of %s (gold-passage EM %.3f)%n",
                f, prev.path("gold_passage").path("em").asDouble());
        return new Result(Path.of(prev.path("reader").asText()), (ObjectNode) prev.path("gold_passage"));
    }

    /**
     * The first difference between two {@link #comparable} keys, recorded one first: "its 'seed' is 1, this
     * stage's 3" (a file-naming key differs in content), or that the held-out questions differ.
     */
    static String difference(String recorded, String wanted) {
        try {
            JsonNode a = Json.MAPPER.readTree(configPart(recorded)), b = Json.MAPPER.readTree(configPart(wanted));
            for (var it = b.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (a.path(k).equals(b.get(k))) continue;
                if (PATH_KEYS.contains(k)) return "its '" + k + "' names other content (a different model, KB or data)";
                return "its '" + k + "' is " + a.path(k) + ", this stage's " + b.get(k)
                        + (k.equals("seed") ? " (--reader-stage-seed sets the stage's seed)" : "");
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return "its recipe is recorded in an older form";
        }
        return evalPart(recorded).equals(evalPart(wanted))
                ? "another recipe"
                : "it was judged on other held-out questions";
    }

    /** Where a key's configuration ends and its held-out questions begin. */
    private static final String EVAL = "|eval=";

    /** The recipe as recorded: the stage's configuration and the held-out questions that judge it. */
    static String key(TrainConfig cfg, List<QaExample> goldEval) {
        return Json.write(Json.MAPPER.valueToTree(cfg)) + EVAL + goldEval.size() + ":"
                + (goldEval.isEmpty() ? "" : goldEval.get(0).id());
    }

    /**
     * Configuration keys of a stage's recipe that name files or folders (the retriever's encoders name files too, but
     * are {@link #RETRIEVER_ONLY_KEYS}: dropped before any path is compared).
     */
    static final List<String> PATH_KEYS = List.of("generator", "kb", "train", "split", "train-source", "train-target");

    /**
     * Options a reader-only stage never reads: the retriever's encoders (its loss, {@code RagModel.goldLoss}, reads
     * the gold passage with the reader alone, and the gold-passage evaluation retrieves nothing), the retriever's
     * learning rate and warm-up ({@code Trainer.retrieverTrains} is false) and the index refresh (only end-to-end
     * runs refresh). The RAG runs pass them through to the stage's config, so a key that kept them made a recipe
     * comparison over retriever options, or over the retriever itself, train the same 20-minute stage again for
     * each arm.
     */
    static final List<String> RETRIEVER_ONLY_KEYS = List.of(
            "question-encoder",
            "context-encoder",
            "lr-retriever",
            "retriever-warmup-steps",
            "indexing-freq",
            "refresh",
            "spark-master",
            "refresh-shards",
            "refresh-threads",
            "refresh-device",
            "refresh-batch",
            "refresh-publish-lag",
            "no-final-refresh");

    /**
     * A stage's key with each path replaced by a {@link Fingerprint} of what it names and without the
     * {@link #RETRIEVER_ONLY_KEYS}: equal for the same recipe on the same files from any folder or checkout. (Keys
     * hold absolute paths: compared as they were, a re-run from another checkout retrained the stage once, and the
     * stage folder then lost the reader earlier runs started from.) Keys recorded before this comparison are read
     * the same way.
     */
    static String comparable(String key) throws IOException {
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(configPart(key));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return key;
        }
        if (!(n instanceof ObjectNode c)) return key;
        c.remove(RETRIEVER_ONLY_KEYS);
        for (String k : PATH_KEYS)
            if (c.hasNonNull(k)) c.put(k, Fingerprint.of(Path.of(c.get(k).asText())));
        return Json.write(c) + evalPart(key);
    }

    /** A key's configuration: what comes before its {@code |eval=} part. */
    private static String configPart(String key) {
        int cut = key.lastIndexOf(EVAL);
        return cut < 0 ? key : key.substring(0, cut);
    }

    /** A key's held-out questions: its {@code |eval=} part, or "" in a key without one. */
    private static String evalPart(String key) {
        int cut = key.lastIndexOf(EVAL);
        return cut < 0 ? "" : key.substring(cut);
    }

    static String recipeId(String key) {
        return Fingerprint.sha256Hex(key).substring(0, 12);
    }

    /**
     * The span reader's stage recipe: {@code preset} (a file), else the shipped {@code presets/span-reader-stage.yaml}
     * (the span reader anchor's batch 16 and 100 warm-up steps, with lr 3e-4 decaying linearly over the stage's minutes,
     * chosen on validation).
     */
    public static void spanRecipe(TrainConfig c, String preset) {
        c.overlay(preset != null ? preset : "span-reader-stage");
    }
}
