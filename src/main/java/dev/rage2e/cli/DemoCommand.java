package dev.rage2e.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.eval.QaExample;
import dev.rage2e.eval.Split;
import dev.rage2e.experiment.ModeRunner;
import dev.rage2e.experiment.Workspace;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.kb.Passage;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.train.TrainingRun;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code rag demo}: the whole pipeline in minutes on the shipped six-article SQuAD sample — models,
 * KB, warm-started generator, evaluation, end-to-end training with a background KB refresh, evaluation
 * again, and one example answer with the passages it read.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run a short end-to-end RAG training on data/demo (6 SQuAD articles): fetch the default models if missing, "
                + "build and encode the KB, warm-start the generator, evaluate, train end2end (KB re-encoded and re-indexed in the "
                + "background), evaluate again and show an example. Prints a summary; writes WORK/summary.json."})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--work", description = "Work folder (default: runs/demo under the repository).")
    Path work;

    @Option(names = "--data", description = "SQuAD JSON (default: data/demo/squad-demo.json).")
    Path data;

    @Option(names = "--split", description = "Split file (default: data/demo/split.json).")
    Path split;

    @Mixin
    ModelChoice models;

    @Option(names = "--steps", defaultValue = "40", description = "Training steps (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--train-questions", defaultValue = "16", description = "Training questions used (evenly spaced over the train "
            + "articles; default ${DEFAULT-VALUE}).")
    int trainQuestions;

    @Option(names = "--eval-questions", defaultValue = "16", description = "Test questions decoded for EM/F1 (default ${DEFAULT-VALUE}).")
    int evalQuestions;

    @Option(names = "--indexing-freq", defaultValue = "15", description = "KB refresh every N steps (default ${DEFAULT-VALUE}).")
    int indexingFreq;

    @Option(names = "--lr", defaultValue = "3e-4", description = "Learning rate (default ${DEFAULT-VALUE}).")
    float lr;

    @Option(names = "--n-docs", defaultValue = "3", description = "Passages per question (default ${DEFAULT-VALUE}).")
    int nDocs;

    @Option(names = "--batch-size", defaultValue = "4", description = "Questions per step (default ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--fresh", description = "Rebuild KB and generator even when the work folder has them.")
    boolean fresh;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        long t0 = System.nanoTime();
        Path home = Path.of(System.getProperty("rag.home", "."));
        Path workDir = work != null ? work : home.resolve("runs/demo");
        Path dataFile = data != null ? data : home.resolve("data/demo/squad-demo.json");
        Path splitFile = split != null ? split : home.resolve("data/demo/split.json");
        if (!Files.isRegularFile(dataFile)) throw new UserException(dataFile + ": demo data not found");
        PrintStream log = System.err;
        if (fresh && Files.exists(workDir)) AtomicFiles.deleteTree(workDir);
        Files.createDirectories(workDir);

        Workspace ws = new Workspace(log);
        Path enc = models.retriever(ws);
        Split s = Split.load(splitFile);
        Path kb = ws.encodedKb(s.kbFiles(), workDir.resolve("kb"), enc, 100);
        Path gen = models.generator(ws, workDir);
        double setupSeconds = (System.nanoTime() - t0) / 1e9;

        // the training questions: a fixed, evenly spaced subset, written as line files so the trainer reads exactly them
        List<QaExample> train = TrainingRun.sample(s.questions("train"), trainQuestions, true);
        Path src = workDir.resolve("train.source");
        Path tgt = workDir.resolve("train.target");
        Workspace.writeLineFiles(train, src, tgt);
        List<QaExample> test = s.questions("test");

        TrainConfig cfg = new TrainConfig();
        cfg.precision = precisionOption.precision;
        cfg.mode = "end2end";
        cfg.questionEncoder = enc.toString();
        cfg.generator = gen.toString();
        cfg.kb = Workspace.copyKb(kb, workDir.resolve("kb-end2end")).toString();
        cfg.trainSource = src.toString();
        cfg.trainTarget = tgt.toString();
        cfg.maxSteps = steps;
        cfg.batchSize = batchSize;
        cfg.nDocs = nDocs;
        cfg.lr = lr;
        cfg.lrRetriever = lr / 30; // encoders are pretrained; a larger rate on this little data made retrieval worse (recall@5 0.92 -> 0.80 at lr/10)
        cfg.scheduler = "constant";
        cfg.warmupSteps = Math.min(5, steps / 10);
        cfg.indexingFreq = indexingFreq;
        cfg.numBeams = 1;
        cfg.maxAnswerLength = 12;
        cfg.logEvery = 5;
        cfg.maxCombinedLength = 160;
        cfg.evalQuestions = 0;
        cfg.keepCheckpoints = 1;
        Path runDir = workDir.resolve("run");
        if (Files.exists(runDir)) AtomicFiles.deleteTree(runDir);

        List<QaExample> sample = TrainingRun.sample(test, evalQuestions, true);
        List<QaExample> seen = TrainingRun.sample(train, Math.min(evalQuestions, train.size()), true);
        ModeRunner.EvalSets sets = new ModeRunner.EvalSets(sample, test, seen, new int[] {1, 5});
        ObjectNode r = new ModeRunner(log).run(cfg, runDir, sets, 0);
        double total = (System.nanoTime() - t0) / 1e9;
        r.put("setup_seconds", setupSeconds);
        r.put("total_seconds", total);
        r.put("train_questions", train.size());
        r.put("test_questions", test.size());

        JsonNode b = r.get("before");
        JsonNode a = r.get("after");
        PrintStream out = System.out;
        out.printf("RAG end-to-end demo: %d training questions (%d steps of %d, %d passages each), %d test questions on unseen articles%n",
                train.size(), r.path("steps").asInt(), batchSize, nDocs, test.size());
        out.printf("KB refreshes published during training: %d (embeddings %s)%n", r.path("refreshes_published").asInt(),
                r.path("embeddings_version").asText());
        out.printf("%-34s %8s %8s%n", "", "before", "after");
        out.printf("%-34s %8.3f %8.3f%n", "test recall@5 (" + test.size() + " questions)", b.path("recall@5").asDouble(),
                a.path("recall@5").asDouble());
        out.printf("%-34s %8.3f %8.3f%n", "test EM (" + sample.size() + " questions)", b.path("em").asDouble(), a.path("em").asDouble());
        out.printf("%-34s %8.3f %8.3f%n", "test F1", b.path("f1").asDouble(), a.path("f1").asDouble());
        out.printf("%-34s %8.3f %8.3f%n", "EM on trained questions (" + seen.size() + ")", b.path("seen_em").asDouble(),
                a.path("seen_em").asDouble());
        out.printf("training loss %.3f -> %.3f; total time %.1f min (setup %.0fs)%n", r.path("loss_first").asDouble(),
                r.path("loss_last").asDouble(), total / 60, setupSeconds);
        KnowledgeBase kbAfter = KnowledgeBase.open(Path.of(cfg.kb));
        if (!printExample(out, runDir.resolve("predictions-after.jsonl"), "test question", kbAfter, false)
                && !printExample(out, runDir.resolve("predictions-after-seen.jsonl"), "trained question", kbAfter, false)) {
            printExample(out, runDir.resolve("predictions-after.jsonl"), "test question", kbAfter, true);
        }
        Json.writeFile(workDir.resolve("summary.json"), r);
        return 0;
    }

    /** The first correctly answered question of a predictions file (or, with {@code anyRow}, the first) with its passages. */
    private static boolean printExample(PrintStream out, Path predictions, String what, KnowledgeBase kb, boolean anyRow)
            throws java.io.IOException {
        if (!Files.exists(predictions)) return false;
        List<JsonNode> rows = new ArrayList<>();
        for (String line : Files.readAllLines(predictions)) if (!line.isBlank()) rows.add(Json.MAPPER.readTree(line));
        JsonNode pick = null;
        for (JsonNode row : rows) {
            if (row.path("em").asDouble() > 0 || (anyRow && pick == null)) {
                pick = row;
                if (row.path("em").asDouble() > 0) break;
            }
        }
        if (pick == null) return false;
        out.println();
        out.println("Example (" + what + "):");
        out.println("  Q: " + pick.path("question").asText());
        out.println("  predicted: " + pick.path("prediction").asText() + "    gold: " + pick.path("answers"));
        for (JsonNode p : pick.path("passages")) {
            Passage ps = kb.passage(p.path("id").asInt());
            String text = ps.text().length() > 160 ? ps.text().substring(0, 160) + "..." : ps.text();
            out.printf("  [p=%.2f%s] %s: %s%n", p.path("posterior").asDouble(), p.path("has_answer").asBoolean() ? ", has answer" : "",
                    ps.title(), text);
        }
        return true;
    }
}
