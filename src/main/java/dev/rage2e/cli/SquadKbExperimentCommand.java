package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.eval.QaExample;
import dev.rage2e.eval.Split;
import dev.rage2e.experiment.ModeRunner;
import dev.rage2e.experiment.SquadKbReport;
import dev.rage2e.experiment.Workspace;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.train.TrainingRun;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
@Command(name = "squad-kb", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train original and end-to-end RAG under the same wall-clock budget on the SQuAD-KB split; evaluate before "
                + "and after (EM/F1 on a fixed, evenly spaced sample of test questions; recall@1/5/20 on all of them); write "
                + "report.md, results.json and curves.png into --out."})
public final class SquadKbExperimentCommand implements Callable<Integer> {
    @Option(names = "--split", required = true, description = "Split file (../shared/data/splits-squad-kb.json).")
    Path split;

    @Option(names = "--budget-minutes", required = true, description = "Training wall-clock budget per mode and seed (evaluation excluded).")
    double budgetMinutes;

    @Option(names = "--seeds", defaultValue = "1", split = ",", description = "Seeds (data order, dropout), e.g. 1,2 (default ${DEFAULT-VALUE}).")
    List<Long> seeds;

    @Option(names = "--out", description = "Output folder (default runs/experiment-squad-kb).")
    Path out;

    @Option(names = "--modes", defaultValue = "original,end2end", split = ",", description = "Modes to run (default ${DEFAULT-VALUE}).")
    List<String> modes;

    @Mixin
    ModelChoice models;

    @Option(names = "--n-docs", defaultValue = "5", description = "Passages per question (default ${DEFAULT-VALUE}).")
    int nDocs;

    @Option(names = "--batch-size", defaultValue = "4", description = "Questions per step (default ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--lr", defaultValue = "3e-4", description = "Generator learning rate (default ${DEFAULT-VALUE}).")
    float lr;

    @Option(names = "--lr-retriever", defaultValue = "3e-5", description = "Question/context encoder learning rate (default ${DEFAULT-VALUE}).")
    float lrRetriever;

    @Option(names = "--retriever-warmup-steps", defaultValue = "0", description = "Train only the generator for the first N steps "
            + "(both modes; default ${DEFAULT-VALUE}).")
    int retrieverWarmupSteps;

    @Option(names = "--indexing-freq", defaultValue = "50", description = "End-to-end: start a KB refresh every N steps (default ${DEFAULT-VALUE}).")
    int indexingFreq;

    @Option(names = "--max-combined-length", defaultValue = "160", description = "Generator input tokens (default ${DEFAULT-VALUE}).")
    int maxCombinedLength;

    @Option(names = "--eval-questions", defaultValue = "100", description = "Test questions decoded for EM/F1 (default ${DEFAULT-VALUE}).")
    int evalQuestions;

    @Option(names = "--num-beams", defaultValue = "1", description = "Beams when decoding answers (default ${DEFAULT-VALUE}).")
    int numBeams;

    @Option(names = "--curve-every", defaultValue = "25", description = "Learning-curve point every N steps (0: before/after only).")
    int curveEvery;

    @Option(names = "--limit-train", hidden = true, defaultValue = "0", description = "Use only N (evenly spaced) training questions.")
    int limitTrain;

    @Option(names = "--limit-test", hidden = true, defaultValue = "0", description = "Use only N (evenly spaced) test questions.")
    int limitTest;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        if (budgetMinutes <= 0) throw new UserException("--budget-minutes must be > 0");
        for (String m : modes) if (!m.equals("original") && !m.equals("end2end")) throw new UserException("--modes: unknown mode '" + m + "'");
        long t0 = System.nanoTime();
        Path home = Path.of(System.getProperty("rag.home", "."));
        Path dir = out != null ? out : home.resolve("runs/experiment-squad-kb");
        Files.createDirectories(dir);
        Split s = Split.load(split);
        Workspace ws = new Workspace(System.err);
        Path enc = models.retriever(ws);
        Path kb = ws.encodedKb(s.kbFiles(), dir.resolve("kb-" + models.retriever), enc, 100);
        Path gen = models.generator(ws, dir);
        double setupSeconds = (System.nanoTime() - t0) / 1e9;

        List<QaExample> train = s.questions("train");
        if (limitTrain > 0) train = TrainingRun.sample(train, limitTrain, true);
        List<QaExample> test = s.questions("test");
        if (limitTest > 0) test = TrainingRun.sample(test, limitTest, true);
        List<QaExample> sample = TrainingRun.sample(test, evalQuestions, true);
        Path src = dir.resolve("train.source");
        Path tgt = dir.resolve("train.target");
        Workspace.writeLineFiles(train, src, tgt);
        ModeRunner.EvalSets sets = new ModeRunner.EvalSets(sample, test, null, new int[] {1, 5, 20});

        ObjectNode results = Json.MAPPER.createObjectNode();
        ObjectNode setup = results.putObject("setup");
        setup.put("command", commandLine());
        setup.put("split", split.toString());
        setup.put("kb_passages", KnowledgeBase.open(kb).size());
        setup.put("train_questions", train.size());
        setup.put("test_questions_recall", test.size());
        setup.put("test_questions_em", sample.size());
        setup.put("em_sample", "every " + String.format("%.2f", (double) test.size() / sample.size())
                + "-th test question in split order (fixed; evenly spaced, so every test article contributes)");
        setup.put("retriever", models.retriever);
        setup.put("generator", models.describeGenerator());
        setup.put("copy_mechanism", models.copy);
        setup.put("budget_minutes", budgetMinutes);
        setup.put("setup_seconds", setupSeconds);
        setup.put("cores", Runtime.getRuntime().availableProcessors());
        ArrayNode runs = results.putArray("runs");
        for (long seed : seeds) {
            for (String mode : modes) {
                Path modeDir = dir.resolve("seed-" + seed).resolve(mode);
                Path runDir = modeDir.resolve("run");
                if (Files.exists(runDir)) AtomicFiles.deleteTree(runDir);
                TrainConfig cfg = config(mode, seed, enc, gen, Workspace.copyKb(kb, modeDir.resolve("kb")), src, tgt);
                if (runs.isEmpty()) results.set("config", Json.MAPPER.valueToTree(cfg));
                System.err.printf("rag: === seed %d, %s: %.1f min budget ===%n", seed, mode, budgetMinutes);
                ObjectNode r = new ModeRunner(System.err).run(cfg, runDir, sets, curveEvery);
                r.put("seed", seed);
                runs.add(r);
                SquadKbReport.write(dir, results); // after every run, so an interrupted experiment keeps what it measured
            }
        }
        results.put("total_minutes", (System.nanoTime() - t0) / 6e10);
        SquadKbReport.write(dir, results);
        System.out.println(Json.pretty(SquadKbReport.summary(results)));
        return 0;
    }

    private TrainConfig config(String mode, long seed, Path enc, Path gen, Path kb, Path src, Path tgt) {
        TrainConfig c = new TrainConfig();
        c.precision = precisionOption.precision;
        c.mode = mode;
        c.seed = seed;
        c.questionEncoder = enc.toString();
        c.generator = gen.toString();
        c.kb = kb.toString();
        c.trainSource = src.toString();
        c.trainTarget = tgt.toString();
        c.maxSteps = 1_000_000; // the budget ends training; a constant schedule does not depend on the step count
        c.maxMinutes = budgetMinutes;
        c.scheduler = "constant";
        c.warmupSteps = 10;
        c.batchSize = batchSize;
        c.nDocs = nDocs;
        c.lr = lr;
        c.lrRetriever = lrRetriever;
        c.retrieverWarmupSteps = retrieverWarmupSteps;
        c.maxCombinedLength = maxCombinedLength;
        c.indexingFreq = indexingFreq;
        c.numBeams = numBeams;
        c.maxAnswerLength = 12;
        c.evalQuestions = 0;
        c.logEvery = 10;
        c.keepCheckpoints = 1;
        return c;
    }

    private String commandLine() {
        StringBuilder b = new StringBuilder("./rag experiment squad-kb --split " + split + " --budget-minutes " + budgetMinutes);
        b.append(" --seeds ").append(String.join(",", seeds.stream().map(String::valueOf).toList()));
        b.append(models.flags()).append(" --n-docs ").append(nDocs).append(" --batch-size ").append(batchSize);
        b.append(" --lr ").append(lr).append(" --lr-retriever ").append(lrRetriever)
                .append(" --retriever-warmup-steps ").append(retrieverWarmupSteps).append(" --indexing-freq ").append(indexingFreq);
        b.append(" --max-combined-length ").append(maxCombinedLength).append(" --eval-questions ").append(evalQuestions);
        b.append(" --num-beams ").append(numBeams).append(" --curve-every ").append(curveEvery);
        if (!modes.equals(List.of("original", "end2end"))) b.append(" --modes ").append(String.join(",", modes));
        if (limitTrain > 0) b.append(" --limit-train ").append(limitTrain);
        if (limitTest > 0) b.append(" --limit-test ").append(limitTest);
        return b.toString();
    }
}
