package dev.rage2e.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.engine.Torch;
import dev.rage2e.rag.RagExample;
import dev.rage2e.rag.RagModel;
import dev.rage2e.rag.Retriever;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The training loop: per optimizer step, {@code grad-accum} micro-batches of questions are retrieved
 * against the currently published index (pinned for the step), the marginalised NLL is
 * back-propagated into generator, question encoder and (end-to-end) context encoder, gradients are
 * clipped by global norm and AdamW updates each parameter group with its own learning rate. Data
 * order and dropout are functions of (seed, epoch, step), so a resumed run repeats an uninterrupted
 * one exactly.
 */
public final class Trainer {
    /** Called between optimizer steps (never during one): periodic evaluation, KB refresh, etc. */
    public interface StepHook {
        void afterStep(int step, Trainer trainer) throws IOException;
    }

    private final TrainConfig cfg;
    private final Path runDir;
    private final RagModel rag;
    private final Retriever retriever;
    private final List<RagExample> data;
    private final MetricsLog metrics;
    private Path loadedFrom;
    private final Map<String, AdamW> optimizers = new LinkedHashMap<>();
    private final Map<String, Float> groupLr = new LinkedHashMap<>();
    private final List<NDArray> trainedParameters = new ArrayList<>(); // every group's, for the global-norm clip
    private final List<StepHook> hooks = new ArrayList<>();
    private final List<StepHook> finishHooks = new ArrayList<>();
    private final List<Runnable> beforeUpdate = new ArrayList<>();
    private final List<CheckpointListener> checkpointListeners = new ArrayList<>();
    private final TrainerState state;
    private final NDManager manager;
    private final int totalSteps;
    private final List<Float> losses = new ArrayList<>();
    private final RagModel.Timings timings = new RagModel.Timings();
    private long backwardNs, optimizerNs, excludedNs;
    private boolean stoppedByBudget;

    public Trainer(
            TrainConfig cfg,
            Path runDir,
            RagModel rag,
            Retriever retriever,
            List<RagExample> data,
            NDManager manager,
            TrainerState resumeFrom) {
        if (data.isEmpty()) throw new dev.rage2e.util.UserException("no training examples");
        this.cfg = cfg;
        this.runDir = runDir;
        this.rag = rag;
        this.retriever = retriever;
        this.data = data;
        this.manager = manager;
        this.metrics = new MetricsLog(runDir.resolve("metrics.jsonl"));
        int perStep = cfg.batchSize * cfg.gradAccum;
        this.totalSteps =
                cfg.maxSteps > 0 ? cfg.maxSteps : cfg.epochs * (int) Math.ceil((double) data.size() / perStep);

        Map<String, NDArray> gen = rag.readerParams().parameters();
        Map<String, NDArray> ret = new LinkedHashMap<>();
        rag.questionEncoder.params.parameters().forEach((k, v) -> ret.put("question_encoder." + k, v));
        if (rag.settings.end2end())
            rag.contextEncoder.params.parameters().forEach((k, v) -> ret.put("context_encoder." + k, v));
        gen.values().forEach(a -> a.setRequiresGradient(true));
        ret.values().forEach(a -> a.setRequiresGradient(true));
        optimizers.put("generator", new AdamW(gen, manager, cfg.weightDecay));
        optimizers.put("retriever", new AdamW(ret, manager, cfg.weightDecay));
        groupLr.put("generator", cfg.lr);
        groupLr.put("retriever", cfg.retrieverLr());
        optimizers.values().forEach(o -> trainedParameters.addAll(o.params().values()));

        if (resumeFrom != null) {
            this.state = resumeFrom;
        } else {
            this.state = new TrainerState();
            state.seed = cfg.seed;
            state.kb = cfg.kb;
            state.mode = cfg.mode.label();
            state.modelType = cfg.modelType.label();
        }
    }

    public Map<String, AdamW> optimizers() {
        return optimizers;
    }

    public TrainerState state() {
        return state;
    }

    public MetricsLog metrics() {
        return metrics;
    }

    public RagModel model() {
        return rag;
    }

    public int totalSteps() {
        return totalSteps;
    }

    /** The checkpoint this run's models were loaded from (kept on disk: their files are read again when saving). */
    public void loadedFrom(Path checkpoint) {
        this.loadedFrom = checkpoint;
    }

    public void addHook(StepHook h) {
        hooks.add(h);
    }

    /** Runs once after the last step, before the final checkpoint (the end-of-training refresh). */
    public void addFinishHook(StepHook h) {
        finishHooks.add(h);
    }

    /** Adds files to every checkpoint and hears when one was written (and older ones pruned). */
    public interface CheckpointListener {
        void writeExtras(Path tmpCheckpointDir) throws IOException;

        void saved(Path checkpoint);
    }

    /** Runs before every weight update (a refresh's weight copy must be complete by then). */
    public void addBeforeUpdate(Runnable r) {
        beforeUpdate.add(r);
    }

    public void addCheckpointListener(CheckpointListener l) {
        checkpointListeners.add(l);
    }

    /** Forward-pass split (question encoding, retrieval, passage encoding, generator) accumulated by this process. */
    public RagModel.Timings timings() {
        return timings;
    }

    /** Seconds this process spent in backward passes and in clipping + AdamW updates. */
    public double backwardSeconds() {
        return backwardNs / 1e9;
    }

    public double optimizerSeconds() {
        return optimizerNs / 1e9;
    }

    /** Time a hook spent that the max-minutes budget should not count (periodic evaluation). */
    public void excludeFromBudget(long nanos) {
        excludedNs += nanos;
    }

    /** Whether the last {@link #run} ended because max-minutes was used up. */
    public boolean stoppedByBudget() {
        return stoppedByBudget;
    }

    /**
     * Seconds excluded from the budget so far (periodic evaluation);
     * trainSeconds minus this is what the budget counted.
     */
    public double excludedSeconds() {
        return excludedNs / 1e9;
    }

    /** Per-step losses seen by this process (for tests and reports). */
    public List<Float> losses() {
        return losses;
    }

    private long runStarted, runExcludedAtStart;
    private double chargedBefore;

    /**
     * Training seconds charged so far, over this run and the ones before it (a resumed run continues the count):
     * wall time minus excluded evaluation. What --max-minutes and --eval-every-minutes measure.
     */
    public double chargedSeconds() {
        return chargedBefore + (runStarted == 0 ? 0 : budgetSecondsUsed(runStarted, runExcludedAtStart));
    }

    /** Seconds of this run() charged to --max-minutes: wall time since {@code started} minus excluded evaluation. */
    private double budgetSecondsUsed(long started, long excludedAtStart) {
        return (System.nanoTime() - started - (excludedNs - excludedAtStart)) / 1e9;
    }

    /** Whether the question (and context) encoder learn at this 0-based step: not during the retriever warm-up. */
    public boolean retrieverTrains(int step) {
        return !cfg.readerOnly && step >= cfg.retrieverWarmupSteps;
    }

    /** What one step's forward and backward passes produced (summed over its micro-batches). */
    private record StepResult(float loss, String version, String contentId, long retrievalWaitNs, int answerless) {}

    /** Trains until {@code totalSteps} (or {@code stopAt}, for tests), checkpointing as configured. */
    public void run(int stopAt) throws IOException {
        int end = Math.min(totalSteps, stopAt);
        long started = System.nanoTime();
        double startSeconds = state.trainSeconds;
        int firstStep = state.step;
        long excludedAtStart = excludedNs;
        double budgetAtStart = state.budgetSeconds; // what earlier runs of this training (before a resume) used
        runStarted = started;
        runExcludedAtStart = excludedAtStart;
        chargedBefore = budgetAtStart; // chargedSeconds() continues the count of the runs before a resume
        stoppedByBudget = false;
        LrSchedule schedule = new LrSchedule(cfg.scheduler, cfg.warmupSteps, totalSteps, cfg.maxMinutes * 60);
        // libtorch's intra-op pool size is per calling thread (OpenMP) and inside a JVM it starts at 1: a training
        // thread left at the default uses one of the cores (measured: 0.18 -> 0.24 steps/s with 2 on 2 cores)
        Torch.setIntraOpThreads(cfg.threads);
        while (state.step < end) {
            int step = state.step;
            // dropout: a function of (seed, step)
            Engine.getInstance().setRandomSeed((int) (state.seed * 1_000_003L + step));
            StepResult r = forwardBackward(step);
            long o0 = System.nanoTime();
            float gradNorm = AdamW.clipGradNorm(trainedParameters, manager, cfg.maxGradNorm);
            float factor = schedule.factor(step, budgetAtStart + budgetSecondsUsed(started, excludedAtStart));
            for (Runnable u : beforeUpdate) u.run();
            update(step, gradNorm, factor);
            optimizerNs += System.nanoTime() - o0;

            state.step = step + 1;
            state.embeddingsVersion = r.version();
            state.trainSeconds = startSeconds + (System.nanoTime() - started) / 1e9;
            state.budgetSeconds = budgetAtStart + budgetSecondsUsed(started, excludedAtStart);
            losses.add(r.loss());
            if (cfg.logEvery > 0 && (state.step % cfg.logEvery == 0 || state.step == end)) {
                logProgress(
                        r,
                        gradNorm,
                        factor,
                        (state.step - firstStep) / Math.max(1e-9, (System.nanoTime() - started) / 1e9));
            }
            for (StepHook h : hooks) h.afterStep(state.step, this);
            state.budgetSeconds = budgetAtStart + budgetSecondsUsed(started, excludedAtStart);
            if (cfg.checkpointEvery > 0 && state.step % cfg.checkpointEvery == 0 && state.step < totalSteps)
                checkpoint();
            if (cfg.maxMinutes > 0 && state.step < end && state.budgetSeconds / 60 >= cfg.maxMinutes) {
                budgetUsedUp();
                break;
            }
        }
        if (state.step >= totalSteps || stoppedByBudget) {
            for (StepHook h : finishHooks) h.afterStep(state.step, this);
            checkpoint();
        }
    }

    /**
     * The step's {@code grad-accum} micro-batches: retrieval against one pinned index version (a lease for the whole
     * step, so it sees one embeddings version even if another thread publishes meanwhile), the marginalised NLL,
     * and its backward pass into every trained parameter.
     */
    private StepResult forwardBackward(int step) {
        optimizers.values().forEach(AdamW::zeroGrad);
        float loss = 0;
        int answerless = 0;
        long w0 = System.nanoTime();
        try (Retriever.Snapshot snap = retriever.acquire()) {
            long waitNs = System.nanoTime() - w0;
            for (int micro = 0; micro < cfg.gradAccum; micro++) {
                List<RagExample> batch = nextBatch();
                try (NDManager m = manager.newSubManager();
                        GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    RagModel.Output out = cfg.readerOnly
                            ? rag.goldLoss(m, batch, true, timings)
                            : rag.loss(m, batch, snap, true, retrieverTrains(step), timings);
                    answerless += out.answerless();
                    // test hook: a GC between forward and backward exposes graph tensors over freed JVM buffers
                    if (Boolean.getBoolean("rag.debug.gc")) System.gc();
                    NDArray microLoss = dev.rage2e.model.Scalars.div(out.loss(), cfg.gradAccum);
                    long b0 = System.nanoTime();
                    gc.backward(microLoss);
                    backwardNs += System.nanoTime() - b0;
                    loss += microLoss.getFloat();
                }
            }
            return new StepResult(loss, snap.version(), snap.contentId(), waitNs, answerless);
        }
    }

    /**
     * AdamW on each parameter group at its learning rate; a non-finite gradient skips the update and says where it is.
     */
    private void update(int step, float gradNorm, float lrFactor) {
        if (!Float.isFinite(gradNorm)) { // skip the update rather than poison the weights
            ObjectNode o = metrics.event("nonfinite_gradient");
            o.put("step", step + 1);
            var names = o.putArray("parameters");
            for (Map.Entry<String, AdamW> e : optimizers.entrySet())
                e.getValue().nonFiniteGradients(5).forEach(n -> names.add(e.getKey() + ":" + n));
            metrics.write(o);
            System.err.println("step " + (step + 1) + ": non-finite gradient, update skipped: " + names);
            return;
        }
        for (Map.Entry<String, AdamW> e : optimizers.entrySet()) {
            // no gradient yet: moments start at the first real one
            if (e.getKey().equals("retriever") && !retrieverTrains(step)) continue;
            e.getValue().step(groupLr.get(e.getKey()) * lrFactor);
        }
    }

    /** The step's metrics line (metrics.jsonl) and progress line with ETA (stderr). */
    private void logProgress(StepResult r, float gradNorm, float lrFactor, double stepsPerSec) {
        ObjectNode o = metrics.event("train");
        o.put("step", state.step);
        o.put("loss", r.loss());
        o.put("grad_norm", gradNorm);
        o.put("lr", cfg.lr * lrFactor);
        o.put("steps_per_s", stepsPerSec);
        o.put("embeddings_version", r.version());
        if (r.contentId() != null && !r.contentId().equals(r.version())) o.put("embeddings_sha256", r.contentId());
        // questions of the step with no answer span in their passages
        if (rag.spanReader != null) o.put("answerless", r.answerless());
        o.put("retrieval_wait_s", r.retrievalWaitNs() / 1e9);
        o.put("question_s", timings.questionNs / 1e9);
        o.put("retrieval_s", timings.retrievalNs / 1e9);
        o.put("passage_s", timings.passageNs / 1e9);
        o.put("generator_fwd_s", timings.generatorNs / 1e9);
        o.put("backward_s", backwardNs / 1e9);
        o.put("optimizer_s", optimizerNs / 1e9);
        metrics.write(o);
        double remaining = (totalSteps - state.step) / Math.max(1e-9, stepsPerSec);
        if (cfg.maxMinutes > 0) { // a time budget ends training first when it is the tighter bound
            remaining = Math.min(remaining, Math.max(0, cfg.maxMinutes * 60 - state.budgetSeconds));
        }
        System.err.printf(
                "step %d/%d  loss %.4f  |g| %.3f  %.2f steps/s  ETA %s%n",
                state.step, totalSteps, r.loss(), gradNorm, stepsPerSec, eta(remaining));
    }

    private void budgetUsedUp() {
        stoppedByBudget = true;
        ObjectNode o = metrics.event("budget");
        o.put("step", state.step);
        o.put("max_minutes", cfg.maxMinutes);
        metrics.write(o);
        System.err.printf("budget of %.2f min used up after step %d%n", cfg.maxMinutes, state.step);
    }

    public Path checkpoint() throws IOException {
        // the version the next step will use: a hook may have published a newer one after this step ran
        try (Retriever.Snapshot s = retriever.acquire()) {
            state.embeddingsVersion = s.version();
        }
        Path p = Checkpoints.save(runDir, state.step, rag, optimizers, state, cfg, tmp -> {
            for (CheckpointListener l : checkpointListeners) l.writeExtras(tmp);
        });
        Checkpoints.cleanup(runDir, cfg.keepCheckpoints, loadedFrom);
        for (CheckpointListener l : checkpointListeners) l.saved(p);
        ObjectNode o = metrics.event("checkpoint");
        o.put("step", state.step);
        o.put("path", p.toString());
        metrics.write(o);
        return p;
    }

    private List<RagExample> nextBatch() {
        List<RagExample> out = new ArrayList<>(cfg.batchSize);
        while (out.size() < cfg.batchSize) {
            List<Integer> order = order(state.epoch);
            while (out.size() < cfg.batchSize && state.position < order.size())
                out.add(data.get(order.get(state.position++)));
            if (state.position >= order.size()) {
                state.epoch++;
                state.position = 0;
                if (cfg.groupByLength) break; // a short last batch keeps the next epoch's batches on its length groups
            }
        }
        return out;
    }

    private List<Integer> cachedOrder;
    private int cachedEpoch = -1;

    private List<Integer> order(int epoch) {
        if (epoch != cachedEpoch) {
            List<Integer> o = new ArrayList<>();
            for (int i = 0; i < data.size(); i++) o.add(i);
            Random r = new Random(state.seed * 7919 + epoch);
            Collections.shuffle(o, r);
            if (cfg.groupByLength) o = LengthGroups.group(o, i -> length(data.get(i)), cfg.batchSize, r);
            cachedOrder = o;
            cachedEpoch = epoch;
        }
        return cachedOrder;
    }

    /** What a batch's padded length follows: the question, plus the gold passage when the reader reads that alone. */
    private int length(RagExample e) {
        int n = e.question().length();
        if (cfg.readerOnly && e.gold() != null)
            n += e.gold().title().length() + e.gold().text().length();
        return n;
    }

    static String eta(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s / 60 % 60) : String.format("%dm%02ds", s / 60, s % 60);
    }
}
