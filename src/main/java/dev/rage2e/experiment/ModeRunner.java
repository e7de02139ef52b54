package dev.rage2e.experiment;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.eval.AnswerEval;
import dev.rage2e.eval.RetrievalEval;
import dev.rage2e.qa.QaExample;
import dev.rage2e.rag.RagDecoder;
import dev.rage2e.run.TrainingRun;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.train.Trainer;
import dev.rage2e.util.Json;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One training mode of a scripted comparison: evaluate before training, train (to max-steps or the
 * max-minutes budget) with a learning curve every {@code curveEvery} steps, evaluate after. Answer
 * metrics (EM, F1) come from decoding a fixed question sample; recall@k from retrieving for every
 * question of a (usually larger) set. Evaluation time is never charged to the training budget.
 */
public final class ModeRunner {
    /** Question sets one evaluation looks at. {@code seen} (optional) are training questions, to show memorisation. */
    public record EvalSets(
            List<QaExample> answerSample, List<QaExample> recallAll, List<QaExample> seen, int[] recallKs) {}

    private final PrintStream log;

    public ModeRunner(PrintStream log) {
        this.log = log;
    }

    /**
     * What one run evaluates besides before and after: a curve point every {@code curveEvery} steps (0: none); a full
     * evaluation after exactly {@code sameStepsAt} steps (0: none), stored as {@code same_steps}, to compare modes at
     * equal steps as well as equal minutes; {@code before}, when given, stands for the evaluation before training (the
     * caller evaluated this very model already, e.g. at the end of a reader stage).
     */
    public record Options(int curveEvery, int sameStepsAt, ObjectNode before) {
        public static Options curveEvery(int n) {
            return new Options(n, 0, null);
        }
    }

    public ObjectNode run(TrainConfig cfg, Path runDir, EvalSets sets, int curveEvery)
            throws IOException, InterruptedException {
        return run(cfg, runDir, sets, Options.curveEvery(curveEvery));
    }

    public ObjectNode run(TrainConfig cfg, Path runDir, EvalSets sets, Options opt)
            throws IOException, InterruptedException {
        int curveEvery = opt.curveEvery(), sameStepsAt = opt.sameStepsAt();
        ObjectNode result = Json.MAPPER.createObjectNode();
        result.put("mode", cfg.mode.label());
        try (TrainingRun run = TrainingRun.open(cfg, runDir, false);
                NDManager m = NDManager.newBaseManager()) {
            Trainer t = run.trainer();
            if (opt.before() != null) result.set("before", opt.before());
            else {
                log.printf("rag: [%s] evaluating before training...%n", cfg.mode);
                // nothing is memorised yet: the trained-question sample waits for the evaluation after training
                result.set("before", evaluate(run, m, sets, runDir.resolve("predictions-before.jsonl"), true, false));
            }
            ArrayNode curve = result.putArray("curve");
            curve.add(point(0, result.get("before")));
            if (curveEvery > 0) {
                t.addHook((step, tr) -> {
                    if (step % curveEvery != 0) return;
                    long e0 = System.nanoTime();
                    ObjectNode e = evaluate(run, m, sets, null, false);
                    curve.add(point(step, e));
                    log.printf(
                            "rag: [%s] step %d: EM %.3f recall@5 %.3f (sample)%n",
                            cfg.mode,
                            step,
                            e.path("em").asDouble(),
                            e.path("sample_recall@5").asDouble());
                    tr.excludeFromBudget(System.nanoTime() - e0);
                });
            }
            if (sameStepsAt > 0) {
                t.addHook((step, tr) -> {
                    if (step != sameStepsAt) return;
                    long e0 = System.nanoTime();
                    log.printf("rag: [%s] evaluating at step %d (the other mode's step count)...%n", cfg.mode, step);
                    ObjectNode e = evaluate(run, m, sets, runDir.resolve("predictions-step-" + step + ".jsonl"), true);
                    e.put("steps", step);
                    e.put("minutes", (tr.state().trainSeconds - tr.excludedSeconds()) / 60);
                    result.set("same_steps", e);
                    tr.excludeFromBudget(System.nanoTime() - e0);
                });
            }
            long t0 = System.nanoTime();
            run.run(Integer.MAX_VALUE);
            double wall = (System.nanoTime() - t0) / 1e9;
            log.printf("rag: [%s] evaluating after training...%n", cfg.mode);
            ObjectNode after = evaluate(run, m, sets, runDir.resolve("predictions-after.jsonl"), true);
            result.set("after", after);
            if (curve.get(curve.size() - 1).path("step").asInt() != t.state().step)
                curve.add(point(t.state().step, after));
            result.put("steps", t.state().step);
            result.put("minutes", (t.state().trainSeconds - t.excludedSeconds()) / 60);
            result.put("wall_minutes_with_evaluation", wall / 60);
            result.put("stopped_by_budget", t.stoppedByBudget());
            result.put("refreshes_published", countEvents(runDir.resolve("metrics.jsonl"), "refresh_published"));
            result.put("embeddings_version", run.retriever().version());
            List<Float> losses = t.losses();
            if (!losses.isEmpty()) {
                int n = Math.min(10, losses.size());
                result.put("loss_first", mean(losses.subList(0, n)));
                result.put("loss_last", mean(losses.subList(losses.size() - n, losses.size())));
            }
            ObjectNode time = result.putObject("seconds");
            var tm = t.timings();
            time.put("question_encoding", tm.questionNs / 1e9);
            time.put("retrieval", tm.retrievalNs / 1e9);
            time.put("passage_encoding", tm.passageNs / 1e9);
            time.put("generator_forward", tm.generatorNs / 1e9);
            time.put("backward", t.backwardSeconds());
            time.put("optimizer", t.optimizerSeconds());
        }
        return result;
    }

    private static double mean(List<Float> xs) {
        double s = 0;
        for (float x : xs) s += x;
        return s / xs.size();
    }

    private static ObjectNode point(int step, com.fasterxml.jackson.databind.JsonNode e) {
        ObjectNode p = Json.MAPPER.createObjectNode();
        p.put("step", step);
        p.put("em", e.path("em").asDouble());
        p.put("f1", e.path("f1").asDouble());
        p.put("sample_recall@5", e.path("sample_recall@5").asDouble()); // same questions at every point of the curve
        return p;
    }

    /** EM/F1 (+ recall@5 of the same sample) by decoding; full recall@k only when {@code full}. */
    ObjectNode evaluate(TrainingRun run, NDManager m, EvalSets sets, Path predictions, boolean full)
            throws IOException {
        return evaluate(run, m, sets, predictions, full, true);
    }

    ObjectNode evaluate(TrainingRun run, NDManager m, EvalSets sets, Path predictions, boolean full, boolean withSeen)
            throws IOException {
        TrainConfig cfg = run.cfg;
        ObjectNode o = Json.MAPPER.createObjectNode();
        RagDecoder decoder = new RagDecoder(
                run.model(),
                new RagDecoder.Options(cfg.numBeams, cfg.maxAnswerLength),
                RagDecoder.defaultMode(run.model().settings.kind()));
        int[] ks = cfg.nDocs >= 5 ? new int[] {1, 5} : new int[] {1};
        AnswerEval.Report a =
                AnswerEval.run(run.model(), decoder, run.retriever(), sets.answerSample(), 8, ks, predictions, m, null);
        o.put("em", a.em());
        o.put("f1", a.f1());
        o.put("em_questions", a.questions());
        RetrievalEval.Report rs = RetrievalEval.run(
                run.retriever(),
                run.model().questionEncoder,
                sets.answerSample(),
                new int[] {5},
                32,
                cfg.maxQuestionLength,
                null);
        o.put("sample_recall@5", rs.recall()[0]);
        if (withSeen && sets.seen() != null && !sets.seen().isEmpty()) {
            Path seenPredictions = predictions == null
                    ? null
                    : predictions.resolveSibling(
                            predictions.getFileName().toString().replace(".jsonl", "-seen.jsonl"));
            AnswerEval.Report s =
                    AnswerEval.run(run.model(), decoder, run.retriever(), sets.seen(), 8, ks, seenPredictions, m, null);
            o.put("seen_em", s.em());
            o.put("seen_f1", s.f1());
            o.put("seen_questions", s.questions());
        }
        if (full) {
            RetrievalEval.Report r = RetrievalEval.run(
                    run.retriever(),
                    run.model().questionEncoder,
                    sets.recallAll(),
                    sets.recallKs(),
                    32,
                    cfg.maxQuestionLength,
                    null);
            Map<Integer, Double> rec = new LinkedHashMap<>();
            for (int i = 0; i < r.ks().length; i++) rec.put(r.ks()[i], r.recall()[i]);
            rec.forEach((k, v) -> o.put("recall@" + k, v));
            o.put("recall_questions", r.questions());
        }
        o.put("embeddings_version", a.version());
        return o;
    }

    /** How many metrics events of a type the run logged (e.g. published KB refreshes). */
    static int countEvents(Path metrics, String event) throws IOException {
        if (!java.nio.file.Files.exists(metrics)) return 0;
        int n = 0;
        for (String line : java.nio.file.Files.readAllLines(metrics)) {
            if (line.isBlank()) continue;
            if (event.equals(Json.MAPPER.readTree(line).path("event").asText())) n++;
        }
        return n;
    }
}
