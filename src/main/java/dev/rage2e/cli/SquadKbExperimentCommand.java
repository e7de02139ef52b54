package dev.rage2e.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.experiment.ModeRunner;
import dev.rage2e.experiment.ReaderStage;
import dev.rage2e.experiment.SameSetup;
import dev.rage2e.experiment.SquadKbReport;
import dev.rage2e.experiment.Workspace;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.qa.QaExample;
import dev.rage2e.qa.Split;
import dev.rage2e.run.TrainingRun;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Choice;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code rag experiment squad-kb}: the paper's Table 1 comparison at CPU scale. Original RAG (frozen
 * passage encoder and index) and end-to-end RAG (passage encoder trained, KB re-encoded and re-indexed
 * in the background) start from the same weights, see the same questions in the same order with the
 * same hyper-parameters, and each trains for the same wall-clock budget.
 */
@Command(
        name = "run",
        aliases = "squad-kb",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Train original and end-to-end RAG under the same wall-clock budget on a split of "
                    + "SQuAD-format data (the "
                    + "SQuAD-KB split, or --data files split by article); evaluate before and after (EM/F1 on a fixed, "
                    + "evenly spaced "
                    + "sample of test questions; recall@1/5/20 on all of them); write report.md, results.json and "
                    + "curves.png into --out.",
            "'rag experiment squad-kb' is the same command; give it --split ../shared/data/splits-squad-kb.json."
        })
public final class SquadKbExperimentCommand implements Callable<Integer> {
    @Option(names = "--split", description = "Split file (e.g. ../shared/data/splits-squad-kb.json); or give --data.")
    Path split;

    @Option(
            names = "--data",
            arity = "1..*",
            description = "SQuAD-format files of your domain: the KB is all "
                    + "their contexts; "
                    + "questions are split by article (--test-fraction) unless --split is given.")
    List<Path> data;

    @Option(
            names = "--test-fraction",
            defaultValue = "0.2",
            description = "With --data and no --split: share of "
                    + "articles held out "
                    + "for test (every round(1/F)-th article in file order; default ${DEFAULT-VALUE}).")
    double testFraction;

    @Option(
            names = "--budget-minutes",
            required = true,
            description = "Training wall-clock budget per mode and seed (evaluation excluded).")
    double budgetMinutes;

    @Option(
            names = "--seeds",
            defaultValue = "1",
            split = ",",
            description = "Seeds (data order, dropout), e.g. 1,2 (default ${DEFAULT-VALUE}).")
    List<Long> seeds;

    @Option(names = "--out", description = "Output folder (default runs/experiment-squad-kb).")
    Path out;

    @Option(
            names = "--modes",
            defaultValue = "original,end2end",
            split = ",",
            description = "Modes to run (default ${DEFAULT-VALUE}).")
    List<String> modes;

    @Mixin
    ModelChoice models;

    @Option(names = "--n-docs", defaultValue = "5", description = "Passages per question (default ${DEFAULT-VALUE}).")
    int nDocs;

    @Option(names = "--batch-size", defaultValue = "4", description = "Questions per step (default ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(
            names = "--lr",
            description = "Reader learning rate (default 1e-4 for a span reader, 3e-4 for a generator).")
    Float lr;

    @Option(
            names = "--reader-stage-minutes",
            defaultValue = "10",
            description = "Train the reader alone on the "
                    + "training questions' "
                    + "gold passages for M minutes first (cached, shared by both modes and all seeds; 0: off; default "
                    + "${DEFAULT-VALUE}).")
    double readerStageMinutes;

    @Option(
            names = "--preset",
            description = "YAML preset of the RAG runs' fixed recipe (default: the shipped "
                    + "presets/experiment.yaml; "
                    + "copy and edit it). The options above are set on top of it.")
    String preset;

    @Option(
            names = "--reader-stage-preset",
            description = "YAML preset of the span reader's stage (default: the "
                    + "shipped "
                    + "presets/span-reader-stage.yaml).")
    String readerStagePreset;

    @Option(
            names = "--reader-stage-from",
            paramLabel = "FILE",
            description = "Reuse the reader stage recorded in FILE (another experiment's "
                    + "reader-stage/reader-stage-*.json) when it is this recipe on the same files (compared by content, "
                    + "not path): a recipe comparison run as separate invocations starts every run from one reader.")
    List<Path> readerStageFrom = new ArrayList<>();

    @Option(
            names = "--reader-stage-seed",
            description = "Seed of the reader stage (default: the first of --seeds). Set it to reuse a stage, with "
                    + "--reader-stage-from or in --out, for runs of other seeds, e.g. a third seed run on its own.")
    Long readerStageSeed;

    @Option(
            names = "--validation",
            description = "Recipe mode: train on the 'fit' part and judge on 'validation' "
                    + "(both carved from "
                    + "the training articles: every 10th article is validation), never touching test questions.")
    boolean validation;

    @Option(
            names = "--scheduler",
            description = "Learning rate after warm-up, both modes: linear (the preset's, chosen on validation) or "
                    + "polynomial decay to 0 at the end of the budget, or constant (the reference runs before "
                    + "2026-12-07).")
    dev.rage2e.train.LrSchedule.Kind scheduler;

    @Option(
            names = "--lr-retriever",
            defaultValue = "3e-5",
            description = "Question/context encoder learning rate (default ${DEFAULT-VALUE}).")
    float lrRetriever;

    @Option(
            names = "--retriever-warmup-steps",
            defaultValue = "0",
            description = "Train only the generator for the first N steps (both modes; default ${DEFAULT-VALUE}).")
    int retrieverWarmupSteps;

    @Option(
            names = "--indexing-freq",
            defaultValue = "50",
            description = "End-to-end: start a KB refresh every N steps (default ${DEFAULT-VALUE}).")
    int indexingFreq;

    @Option(
            names = "--refresh-batch",
            description = "End-to-end: passages per batch when a refresh re-encodes the KB (default: rag train's; "
                    + "batches of long passages are made smaller on their own, EncoderModel.batchEnd).")
    Integer refreshBatch;

    @Option(
            names = "--max-combined-length",
            description = "Reader input tokens (default 256 for a span reader, 160 for a generator).")
    Integer maxCombinedLength;

    @Option(
            names = "--eval-questions",
            defaultValue = "100",
            description = "Test questions decoded for EM/F1 (default ${DEFAULT-VALUE}).")
    int evalQuestions;

    @Option(
            names = "--num-beams",
            defaultValue = "1",
            description = "Beams when decoding answers (default ${DEFAULT-VALUE}).")
    int numBeams;

    @Option(
            names = "--curve-every",
            defaultValue = "25",
            description = "Learning-curve point every N steps (0: before/after only).")
    int curveEvery;

    @Option(
            names = "--limit-train",
            hidden = true,
            defaultValue = "0",
            description = "Use only N (evenly spaced) training questions.")
    int limitTrain;

    @Option(
            names = "--limit-test",
            hidden = true,
            defaultValue = "0",
            description = "Use only N (evenly spaced) test questions.")
    int limitTest;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        if (budgetMinutes <= 0) throw new UserException("--budget-minutes must be > 0");
        for (String m : modes)
            if (!m.equals("original") && !m.equals("end2end"))
                throw new UserException("--modes: unknown mode '" + m + "'");
        long t0 = System.nanoTime();
        Path home = Path.of(System.getProperty("rag.home", "."));
        Path dir = out != null ? out : home.resolve("runs/experiment-squad-kb");
        Files.createDirectories(dir);
        if (split == null && (data == null || data.isEmpty()))
            throw new UserException("give --split FILE or --data FILE...");
        if (split == null) split = Workspace.articleSplit(data, testFraction, dir.resolve("split.json"));
        Split s = Split.load(split);
        Workspace ws = new Workspace(System.err);
        Path enc = models.retriever(ws);
        Path kb = ws.encodedKb(s.kbFiles(), dir.resolve("kb-" + models.retriever), enc, 100);
        Path gen = models.generator(ws, dir);
        double setupSeconds = (System.nanoTime() - t0) / 1e9;

        List<QaExample> train = s.questions(validation ? "fit" : "train");
        if (limitTrain > 0) train = TrainingRun.sample(train, limitTrain, true);
        List<QaExample> test = s.questions(validation ? "validation" : "test");
        if (limitTest > 0) test = TrainingRun.sample(test, limitTest, true);
        List<QaExample> sample = TrainingRun.sample(test, evalQuestions, true);
        Path trainJson = dir.resolve("train.json");
        Workspace.writeSquad(train, trainJson);
        ModeRunner.EvalSets sets = new ModeRunner.EvalSets(sample, test, null, new int[] {1, 5, 20});
        ObjectNode readerGold = null;
        if (readerStageMinutes > 0) {
            TrainConfig st = config(
                    "original", readerStageSeed != null ? readerStageSeed : seeds.get(0), enc, gen, kb, trainJson);
            if (models.span()) ReaderStage.spanRecipe(st, readerStagePreset);
            else {
                st.batchSize = 16;
                st.maxSteps = 1_000_000;
            }
            st.maxMinutes = readerStageMinutes;
            ReaderStage.Result rs =
                    new ReaderStage(System.err).run(st, dir.resolve("reader-stage"), sample, readerStageFrom);
            gen = rs.reader();
            readerGold = rs.report();
        }

        ObjectNode results = Json.MAPPER.createObjectNode();
        ObjectNode setup = results.putObject("setup");
        setup.put("command", commandLine());
        setup.put("split", split.toString());
        setup.put("kb_passages", KnowledgeBase.open(kb).size());
        setup.put("train_questions", train.size());
        setup.put("test_questions_recall", test.size());
        setup.put("test_questions_em", sample.size());
        setup.put(
                "em_sample",
                "every " + String.format("%.2f", (double) test.size() / sample.size())
                        + "-th test question in split order (fixed; evenly spaced, so every test article contributes)");
        setup.put("retriever", models.retriever);
        setup.put("generator", models.describeGenerator());
        setup.put("copy_mechanism", !models.span() && models.copy);
        setup.put("parts", validation ? "fit -> validation" : "train -> test");
        setup.put("reader_stage_minutes", readerStageMinutes);
        if (readerGold != null) results.set("reader_gold_passage", readerGold);
        setup.put("budget_minutes", budgetMinutes);
        setup.put("setup_seconds", setupSeconds);
        setup.put("cores", Runtime.getRuntime().availableProcessors());
        setup.put("before", "evaluated once: every run starts from the same reader, encoders and KB embeddings");
        ArrayNode runs = results.putArray("runs");
        List<JsonNode> kept =
                keptRuns(dir.resolve("results.json"), setup, config("original", 0, enc, gen, kb, trainJson));
        double keptMinutes = 0;
        // every run starts from the same reader, encoders and KB embeddings:
        // one evaluation before training stands for all
        ObjectNode before = kept.isEmpty() ? null : (ObjectNode) kept.get(0).get("before");
        for (long seed : seeds) {
            int otherSteps = 0;
            for (String mode : modes) {
                JsonNode done = kept.stream()
                        .filter(r -> r.path("seed").asLong() == seed
                                && r.path("mode").asText().equals(mode))
                        .findFirst()
                        .orElse(null);
                if (done != null) {
                    System.err.printf(
                            "rag: === seed %d, %s: kept from %s (same setup; delete it to re-run) ===%n",
                            seed, mode, dir.resolve("results.json"));
                    runs.add(done);
                    keptMinutes += done.path("wall_minutes_with_evaluation").asDouble();
                    otherSteps = done.path("steps").asInt();
                    continue;
                }
                Path modeDir = dir.resolve("seed-" + seed).resolve(mode);
                Path runDir = modeDir.resolve("run");
                if (Files.exists(runDir)) AtomicFiles.deleteTree(runDir);
                TrainConfig cfg = config(mode, seed, enc, gen, Workspace.copyKb(kb, modeDir.resolve("kb")), trainJson);
                if (!results.has("config")) results.set("config", Json.MAPPER.valueToTree(cfg));
                System.err.printf("rag: === seed %d, %s: %.1f min budget ===%n", seed, mode, budgetMinutes);
                // same-steps point: a later mode is also evaluated at the step
                // count an earlier mode of this seed reached
                ObjectNode r = new ModeRunner(System.err)
                        .run(cfg, runDir, sets, new ModeRunner.Options(curveEvery, otherSteps, before));
                if (before == null) before = (ObjectNode) r.get("before");
                r.put("seed", seed);
                otherSteps = r.path("steps").asInt();
                runs.add(r);
                // after every run, so an interrupted experiment keeps what it measured
                SquadKbReport.write(dir, results);
            }
        }
        results.put("total_minutes", (System.nanoTime() - t0) / 6e10);
        // wall time of the kept runs, measured earlier
        if (keptMinutes > 0) results.put("kept_runs_minutes", keptMinutes);
        SquadKbReport.write(dir, results);
        System.out.println(Json.pretty(SquadKbReport.summary(results)));
        return 0;
    }

    /**
     * Runs of an earlier invocation in the same folder whose setup and training configuration (seed, mode and KB
     * copy aside) equal this one's: re-running the command with more seeds keeps them instead of training again.
     */
    static List<JsonNode> keptRuns(Path resultsFile, ObjectNode setup, TrainConfig probe) throws java.io.IOException {
        if (!Files.exists(resultsFile)) return List.of();
        JsonNode old = Json.MAPPER.readTree(resultsFile.toFile());
        String differs = SameSetup.difference(
                old.path("setup"), old.path("config"), setup, Json.MAPPER.valueToTree(probe), Set.of(), Set.of());
        if (differs != null) {
            System.err.printf("rag: %s has another %s: its runs are not kept%n", resultsFile, differs);
            return List.of();
        }
        List<JsonNode> kept = new ArrayList<>();
        old.path("runs").forEach(kept::add);
        return kept;
    }

    private TrainConfig config(String mode, long seed, Path enc, Path gen, Path kb, Path trainJson) {
        TrainConfig c = new TrainConfig().overlay(preset != null ? preset : "experiment");
        c.precision = precisionOption.precision;
        c.mode = Choice.parse(TrainConfig.Mode.class, "mode", mode);
        c.seed = seed;
        c.questionEncoder = enc.toString();
        c.generator = gen.toString();
        c.kb = kb.toString();
        c.train = trainJson.toString();
        c.maxMinutes = budgetMinutes;
        c.batchSize = batchSize;
        c.nDocs = nDocs;
        c.lr = lr != null ? lr : models.span() ? 1e-4f : 3e-4f;
        c.lrRetriever = lrRetriever;
        if (scheduler != null) c.scheduler = scheduler;
        c.retrieverWarmupSteps = retrieverWarmupSteps;
        c.maxCombinedLength = maxCombinedLength != null ? maxCombinedLength : models.span() ? 256 : 160;
        c.indexingFreq = indexingFreq;
        if (refreshBatch != null) c.refreshBatch = refreshBatch;
        c.numBeams = numBeams;
        return c;
    }

    private String commandLine() {
        StringBuilder b = new StringBuilder(
                data != null && !data.isEmpty()
                        ? "./rag experiment run "
                                + "--data "
                                + String.join(
                                        " ", data.stream().map(Path::toString).toList()) + " "
                                + "--test-fraction " + testFraction
                        : "./rag experiment squad-kb --split " + split);
        b.append(" --budget-minutes ").append(budgetMinutes);
        b.append(" --seeds ")
                .append(String.join(",", seeds.stream().map(String::valueOf).toList()));
        b.append(models.flags())
                .append(" --n-docs ")
                .append(nDocs)
                .append(" --batch-size ")
                .append(batchSize);
        if (lr != null) b.append(" --lr ").append(lr);
        if (scheduler != null) b.append(" --scheduler ").append(scheduler);
        b.append(" --reader-stage-minutes ").append(readerStageMinutes);
        if (validation) b.append(" --validation");
        if (preset != null) b.append(" --preset ").append(preset);
        if (readerStagePreset != null) b.append(" --reader-stage-preset ").append(readerStagePreset);
        for (Path f : readerStageFrom) b.append(" --reader-stage-from ").append(f);
        if (readerStageSeed != null) b.append(" --reader-stage-seed ").append(readerStageSeed);
        b.append(" --lr-retriever ")
                .append(lrRetriever)
                .append(" --retriever-warmup-steps ")
                .append(retrieverWarmupSteps)
                .append(" --indexing-freq ")
                .append(indexingFreq);
        if (refreshBatch != null) b.append(" --refresh-batch ").append(refreshBatch);
        if (maxCombinedLength != null) b.append(" --max-combined-length ").append(maxCombinedLength);
        b.append(" --eval-questions ").append(evalQuestions);
        b.append(" --num-beams ").append(numBeams).append(" --curve-every ").append(curveEvery);
        if (!modes.equals(List.of("original", "end2end"))) b.append(" --modes ").append(String.join(",", modes));
        if (limitTrain > 0) b.append(" --limit-train ").append(limitTrain);
        if (limitTest > 0) b.append(" --limit-test ").append(limitTest);
        return b.toString();
    }
}
