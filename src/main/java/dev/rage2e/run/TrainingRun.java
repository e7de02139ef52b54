package dev.rage2e.run;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.eval.AnswerEval;
import dev.rage2e.index.HnswIndex;
import dev.rage2e.index.KbIndexBuilder;
import dev.rage2e.index.KbJanitor;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.index.RemoteIndex;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.qa.QaExample;
import dev.rage2e.qa.Split;
import dev.rage2e.qa.SquadReader;
import dev.rage2e.rag.GoldPassages;
import dev.rage2e.rag.RagDecoder;
import dev.rage2e.rag.RagExample;
import dev.rage2e.rag.RagModel;
import dev.rage2e.rag.RagSettings;
import dev.rage2e.rag.Readers;
import dev.rage2e.rag.Retriever;
import dev.rage2e.train.Checkpoints;
import dev.rage2e.train.LineFiles;
import dev.rage2e.train.MetricsLog;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.train.Trainer;
import dev.rage2e.train.TrainerState;
import dev.rage2e.train.refresh.AsyncKbRefresher;
import dev.rage2e.train.refresh.RefreshHook;
import dev.rage2e.train.refresh.RunVersions;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Assembles a training run from a {@link TrainConfig}: data, KB + retriever, the three models (fresh
 * or from the run's latest checkpoint), optimizers, periodic evaluation and, in end-to-end mode, the
 * asynchronous KB refresher. Everything is checked before the first step so bad input fails fast.
 */
public final class TrainingRun implements AutoCloseable {
    /**
     * Training questions whose top-k retrieval is compared before and after each refresh (the "top-k changed" metric).
     */
    static final int REFRESH_PROBE_QUESTIONS = 32;
    /**
     * HNSW graph of a refreshed version: rag index build's defaults (M 32,
     * efConstruction 100, efSearch 100), one build thread.
     */
    static final HnswIndex.Params REFRESH_HNSW = new HnswIndex.Params(32, 100, 100, 1);
    /** Questions decoded per evaluation batch: with one gold passage each, or with their n-docs retrieved passages. */
    static final int EVAL_BATCH_GOLD = 32, EVAL_BATCH_RETRIEVED = 8;

    public final TrainConfig cfg;
    public final Path runDir;
    private final NDManager manager;
    private final KbRetriever retriever;
    private final RagModel rag;
    private final Trainer trainer;
    private final List<QaExample> evalSet;
    private AsyncKbRefresher refresher;
    private dev.rage2e.kb.DistributedEncoder distributedEncoder; // --refresh spark: encodes refreshes off this process
    private KbJanitor janitor;
    private RefreshHook refreshHook;

    /** The embeddings version a run started on, so a restart before the first checkpoint starts on it again. */
    static final String START_VERSION = "start-version";

    public static TrainingRun open(TrainConfig cfg, Path runDir, boolean resume) throws IOException {
        cfg.validate();
        dev.rage2e.engine.Precision.applyAndLog(cfg.precision); // process-wide: trainer and refresher
        Path latest = resume ? Checkpoints.latestOrNull(runDir) : null;
        if (resume && latest == null && Files.exists(runDir.resolve("metrics.jsonl"))) {
            throw new UserException(runDir + ": --resume given but the run has no complete checkpoint yet");
        }
        if (!resume && Checkpoints.latestOrNull(runDir) != null) {
            throw new UserException(runDir + ": already holds a training run; use --resume to continue it or "
                    + "choose another --out");
        }
        return new TrainingRun(cfg, runDir, latest);
    }

    /**
     * Opens the run: the run folder brought to the checkpoint's (or a fresh start's) state, the models loaded, the
     * trainer built, then the hooks that evaluate and, end to end, refresh the KB.
     */
    private TrainingRun(TrainConfig cfg, Path runDir, Path checkpoint) throws IOException {
        this.cfg = cfg;
        this.runDir = runDir;
        List<RagExample> data = loadTrainData(cfg);
        this.evalSet = loadEvalData(cfg);
        Path kbDir = Path.of(cfg.kb);
        KnowledgeBase kb = KnowledgeBase.open(kbDir);
        TrainerState state = checkpoint == null ? null : Checkpoints.readState(checkpoint);
        prepareRunFolder(kbDir, checkpoint, state);
        this.manager = NDManager.newBaseManager();
        this.retriever = KbRetriever.open(kb, cfg.indexType);
        this.rag = loadModel(kb, checkpoint);
        if (checkpoint == null) cfg.save(runDir.resolve("config.yaml"));
        this.trainer = new Trainer(cfg, runDir, rag, retriever, data, manager, state);
        if (checkpoint != null) {
            Checkpoints.loadOptimizers(checkpoint, trainer.optimizers());
            trainer.loadedFrom(checkpoint);
        }
        addEvaluationHooks();
        if (cfg.trainsContextEncoder()) addKbRefresh(kbDir, data, checkpoint);
    }

    /**
     * Leftovers of a killed attempt go (temp folders, incomplete checkpoints, metrics past the step resumed from), and
     * the KB's current version becomes the one the next step trains on: the
     * checkpoint's, or the version a fresh run started on.
     */
    private void prepareRunFolder(Path kbDir, Path checkpoint, TrainerState state) throws IOException {
        Files.createDirectories(runDir);
        Checkpoints.cleanup(runDir, Integer.MAX_VALUE);
        removeTempDirs(kbDir);
        if (checkpoint != null) {
            // resume against the index the checkpoint's next step uses (complete: versions are renamed into place)
            if (state.embeddingsVersion != null) {
                Path v = kbDir.resolve(state.embeddingsVersion);
                if (!Files.isRegularFile(v.resolve(Embeddings.META))) {
                    throw new UserException(v + ": embeddings version named by " + checkpoint.getFileName() + " is "
                            + "missing; the run cannot "
                            + "resume on the index it trained with (restore that folder, or start a new run)");
                }
                KbVersions.publish(kbDir, state.embeddingsVersion);
            }
            new MetricsLog(runDir.resolve("metrics.jsonl")).truncateAfter(state.step);
        } else {
            // a run that died before its first checkpoint starts over: drop the step events of the lost attempt
            new MetricsLog(runDir.resolve("metrics.jsonl")).truncateAfter(0);
            // ... and on the version it started on (a refresh may have been published before it died)
            Path start = runDir.resolve(START_VERSION);
            String v = Files.isRegularFile(start) ? Files.readString(start).strip() : null;
            if (v != null && Files.isRegularFile(kbDir.resolve(v).resolve(Embeddings.META)))
                KbVersions.publish(kbDir, v);
            else AtomicFiles.writeString(start, KbVersions.requireCurrent(kbDir) + "\n");
        }
    }

    /**
     * Question encoder, context encoder (end to end only) and
     * reader/generator: the checkpoint's, else the configured ones.
     */
    private RagModel loadModel(KnowledgeBase kb, Path checkpoint) {
        Path src = checkpoint;
        EncoderModel q = EncoderModel.load(
                src != null ? src.resolve("question_encoder") : Path.of(cfg.questionEncoder), manager);
        if (retriever.dim() != q.dim()) {
            throw new UserException(cfg.kb + ": embeddings have dim " + retriever.dim() + " but question "
                    + "encoder " + cfg.questionEncoder
                    + " has dim " + q.dim() + " (encode the KB with a matching encoder)");
        }
        EncoderModel c = null;
        if (cfg.trainsContextEncoder()) {
            Path ctx = src != null && Files.isDirectory(src.resolve("context_encoder"))
                    ? src.resolve("context_encoder")
                    : Path.of(cfg.contextEncoder != null ? cfg.contextEncoder : kbEncoderPath(kb));
            c = EncoderModel.load(ctx, manager);
        }
        AutoCloseable g = Readers.load(src != null ? src.resolve("generator") : Path.of(cfg.generator), manager);
        RagSettings settings = cfg.ragSettings(q.settings.normalize());
        cfg.docScoreScale = settings.docScoreScale(); // the resolved value goes into config.yaml and every checkpoint
        return RagModel.of(q, c, g, settings);
    }

    /** Periodic evaluation (every N minutes of charged time and/or every N steps), not charged to the budget. */
    private void addEvaluationHooks() {
        if (cfg.evalEveryMinutes > 0) {
            double[] next = {cfg.evalEveryMinutes * 60};
            trainer.addHook((step, t) -> {
                if (t.chargedSeconds() >= next[0] && step < t.totalSteps()) {
                    while (next[0] <= t.chargedSeconds()) next[0] += cfg.evalEveryMinutes * 60;
                    long e0 = System.nanoTime();
                    evaluate("eval", step);
                    t.excludeFromBudget(System.nanoTime() - e0);
                }
            });
        }
        if (cfg.evalEvery > 0) {
            trainer.addHook((step, t) -> {
                if (step % cfg.evalEvery == 0 && step < t.totalSteps()) {
                    long e0 = System.nanoTime();
                    evaluate("eval", step);
                    t.excludeFromBudget(System.nanoTime() - e0);
                }
            });
        }
    }

    /**
     * End to end: the background refresher (a snapshot of the context encoder re-encodes and re-indexes the KB every
     * indexing-freq steps, locally or by a Spark job), its hook into the training loop, and the janitor that deletes
     * versions no checkpoint names.
     */
    private void addKbRefresh(Path kbDir, List<RagExample> data, Path checkpoint) throws IOException {
        EncoderModel c = rag.contextEncoder;
        int probeN = Math.min(REFRESH_PROBE_QUESTIONS, data.size());
        List<String> probe = new ArrayList<>();
        for (int i = 0; i < probeN; i++) probe.add(data.get(i).question());
        float[][] probeVectors = RefreshHook.probeVectors(trainer, manager, probe);
        // passages are encoded to the same length as training re-embeds them (RagModel.embedPassages)
        EmbeddingsWriter.Options enc =
                new EmbeddingsWriter.Options(cfg.refreshBatch, c.settings.maxLength(), 0, 1, null);
        // file work (current pointer, deleting replaced versions) off the training thread; keep what checkpoints name
        MetricsLog log = trainer.metrics();
        Path startFile = runDir.resolve(START_VERSION);
        String startVersion =
                Files.isRegularFile(startFile) ? Files.readString(startFile).strip() : "";
        this.janitor = new KbJanitor(
                kbDir,
                v -> RunVersions.namedByCheckpoints(runDir).contains(v)
                        || (v.equals(startVersion) && Checkpoints.latestOrNull(runDir) == null),
                retriever::openVersions,
                msg -> {
                    System.err.println("rag: warning: " + msg);
                    ObjectNode o = log.event("kb_file_error");
                    o.put("error", msg);
                    log.write(o);
                });
        if (RemoteIndex.isRemote(cfg.indexType)) {
            // a cluster collection goes with its local version: never while a checkpoint names it (resume searches it)
            String type = cfg.indexType;
            janitor.alsoDelete(v -> {
                // never complete: never indexed
                if (!Files.isRegularFile(kbDir.resolve(v).resolve(Embeddings.META))) return;
                RemoteIndex.engine(type).delete(Embeddings.open(retriever.kb(), v), RemoteIndex.target(type));
            });
        }
        retriever.useJanitor(janitor);
        janitor.candidates(RunVersions.owned(kbDir, runDir)); // what a killed attempt left and pruned checkpoints named
        KbIndexBuilder builder = new KbIndexBuilder(retriever, cfg.indexType, REFRESH_HNSW, enc);
        if (cfg.refresh == TrainConfig.Refresh.SPARK) {
            this.distributedEncoder =
                    dev.rage2e.kb.DistributedEncoder.open("spark", cfg.sparkMaster, cfg.refreshShards);
            System.err.println("rag: KB refreshes encoded by " + distributedEncoder.describe());
            builder.encodeWith(distributedEncoder);
        }
        Path ctxDir = c.dir();
        ai.djl.Device device = refreshDevice(cfg.refreshDevice);
        String owner = RunVersions.ownerTag(runDir);
        this.refresher = new AsyncKbRefresher(
                builder,
                weights -> EncoderModel.fromWeights(ctxDir, weights, device),
                log,
                cfg.refreshThreads,
                probeVectors,
                cfg.nDocs,
                step -> "context-encoder@step-" + step + owner);
        RefreshHook hook = this.refreshHook = new RefreshHook(
                refresher, trainer, cfg.indexingFreq, cfg.refreshPublishLag, !cfg.noFinalRefresh, probe);
        trainer.addHook(hook);
        trainer.addFinishHook((step, t) -> hook.finish(t));
        trainer.addBeforeUpdate(hook::beforeUpdate);
        trainer.addCheckpointListener(hook);
        trainer.addCheckpointListener(new Trainer.CheckpointListener() {
            @Override
            public void writeExtras(Path tmp) {}

            @Override
            public void saved(Path cp) {
                janitor.collect(); // versions only pruned checkpoints named can go now
            }
        });
        if (checkpoint != null) hook.resume(checkpoint, trainer);
    }

    /** The refresher's device: {@code cpu}, or {@code gpu:N} when the engine sees that GPU (a CUDA libtorch build). */
    static ai.djl.Device refreshDevice(String spec) {
        if (spec.equals("cpu")) return ai.djl.Device.cpu();
        int n = Integer.parseInt(spec.substring(4));
        int gpus = ai.djl.engine.Engine.getInstance().getGpuCount();
        if (n >= gpus) {
            throw new UserException("refresh-device " + spec + ": the PyTorch engine sees " + gpus + " GPU(s); "
                    + "this build ships the CPU "
                    + "libtorch (ai.djl.pytorch:pytorch-native-cpu); put a CUDA build (pytorch-native-cu*) on the "
                    + "classpath to use a GPU");
        }
        return ai.djl.Device.gpu(n);
    }

    public Trainer trainer() {
        return trainer;
    }

    public KbRetriever retriever() {
        return retriever;
    }

    public RagModel model() {
        return rag;
    }

    /** Trains to the end (or {@code stopAt}); returns the final evaluation. */
    public ObjectNode run(int stopAt) throws IOException, InterruptedException {
        trainer.run(stopAt);
        if (refresher != null) {
            refresher.awaitReady(); // only a stop before the end leaves one running (the end published or replaced it)
            refresher.publishIfReady(trainer.state().step).ifPresent(r -> {});
        }
        boolean done = trainer.state().step >= trainer.totalSteps() || trainer.stoppedByBudget();
        return done ? evaluate("final", trainer.state().step) : null;
    }

    public ObjectNode evaluate(String event, int step) throws IOException {
        if (evalSet.isEmpty()) return null;
        RagDecoder decoder = new RagDecoder(
                rag,
                new RagDecoder.Options(cfg.numBeams, cfg.maxAnswerLength),
                RagDecoder.defaultMode(rag.settings.kind()),
                cfg.spanScore);
        int[] ks = cfg.nDocs >= 5 ? new int[] {1, 5, cfg.nDocs} : new int[] {1, cfg.nDocs};
        ks = java.util.Arrays.stream(ks).distinct().toArray();
        Path preds = runDir.resolve("predictions-step" + step + ".jsonl");
        // a reader stage is judged on gold passages (what it trained on); RAG training on retrieved ones
        AnswerEval.Report r = AnswerEval.run(
                rag,
                decoder,
                retriever,
                evalSet,
                cfg.readerOnly ? EVAL_BATCH_GOLD : EVAL_BATCH_RETRIEVED,
                ks,
                preds,
                manager,
                null,
                cfg.readerOnly,
                cfg.goldContext == TrainConfig.GoldContext.PARAGRAPH);
        ObjectNode o = trainer.metrics().event(event);
        o.put("step", step);
        o.put("train_minutes", trainer.chargedSeconds() / 60);
        o.setAll(r.toJson());
        o.put("passages", cfg.readerOnly ? "gold" : "retrieved");
        trainer.metrics().write(o);
        System.err.printf(
                "%s at step %d: EM %.3f F1 %.3f %s(%d questions, %.0fs)%n",
                event,
                step,
                r.em(),
                r.f1(),
                r.recall().length > 0 ? String.format("recall@1 %.3f ", r.recall()[0]) : "on gold passages ",
                r.questions(),
                r.seconds());
        return o;
    }

    /** The model directory that made the KB's current embeddings (a run's default context encoder). */
    public static String kbEncoderPath(KnowledgeBase kb) {
        String current = KbVersions.requireCurrent(kb.dir());
        Embeddings e = Embeddings.open(kb, current);
        String p = e.meta().path("encoder").path("path").asText(null);
        if (p == null) {
            // typically an end-to-end run's refresh, which also retired the version the base encoder made
            String label = e.meta().path("encoder").path("label").asText("?");
            throw new UserException(kb.dir() + ": the current embeddings (" + current + ") were made by '" + label
                    + "', not a model directory: pass --context-encoder DIR, " + modelMadeVersions(kb)
                    + " or re-encode with rag kb encode --kb " + kb.dir() + " --encoder DIR");
        }
        return p;
    }

    /** Advice naming the versions made from a model directory (rag kb publish makes one current again), or none. */
    private static String modelMadeVersions(KnowledgeBase kb) {
        List<String> found = new ArrayList<>();
        try {
            for (String v : KbVersions.list(kb.dir())) {
                // its meta.json says who made it (opening the version would map its vectors for nothing)
                Path meta = kb.dir().resolve(v).resolve(Embeddings.META);
                try {
                    com.fasterxml.jackson.databind.JsonNode m = Json.read(meta);
                    String dir = m.path("encoder").path("path").asText(null);
                    if (dir != null
                            && kb.passagesSha256()
                                    .equals(m.path("kb_passages_sha256").asText())) found.add(v + " (" + dir + ")");
                } catch (RuntimeException incomplete) {
                    // a version being written or damaged is no candidate
                }
            }
        } catch (IOException ignored) {
            // listing is advice only
        }
        return found.isEmpty()
                ? "(no other version here was made from one)"
                : "publish one that was (rag kb publish --kb " + kb.dir() + " " + String.join(" | ", found) + "),";
    }

    /** Training data from SQuAD JSON (optionally one split part) or reference-style line files. */
    public static List<RagExample> loadTrainData(TrainConfig cfg) {
        if (cfg.train == null) return LineFiles.read(Path.of(cfg.trainSource), Path.of(cfg.trainTarget));
        List<QaExample> qs = questions(cfg.train, cfg.split, cfg.part);
        List<RagExample> out = new ArrayList<>(qs.size());
        int noGold = 0;
        for (QaExample e : qs) {
            Retriever.Passage gold = GoldPassages.of(e, cfg.goldContext == TrainConfig.GoldContext.PARAGRAPH);
            if (cfg.readerOnly && gold == null) {
                noGold++;
                continue;
            }
            out.add(new RagExample(e.id(), e.question(), e.answers(), gold));
        }
        if (noGold > 0)
            System.err.printf(
                    "reader-only: %d of %d questions have no gold passage (no context or "
                            + "answer not in it); skipped%n",
                    noGold, qs.size());
        if (out.isEmpty())
            throw new UserException(
                    cfg.train + ": no training questions" + (cfg.split != null ? " in part '" + cfg.part + "'" : ""));
        return out;
    }

    static List<QaExample> loadEvalData(TrainConfig cfg) {
        if (cfg.split == null || cfg.evalQuestions <= 0) return List.of();
        List<QaExample> qs = questions(cfg.train, cfg.split, cfg.evalPart);
        if (cfg.evalSample == TrainConfig.EvalSample.STRIDE) return stride(qs, cfg.evalQuestions);
        return sample(qs, cfg.evalQuestions, cfg.evalSample == TrainConfig.EvalSample.SPREAD);
    }

    /**
     * Every k-th question from the first, k = size / n, at most n (the reader
     * anchors' test sample: {@code test[::k][:n]}).
     */
    public static List<QaExample> stride(List<QaExample> qs, int n) {
        int k = Math.max(1, qs.size() / n);
        List<QaExample> out = new ArrayList<>(n);
        for (int i = 0; i < qs.size() && out.size() < n; i += k) out.add(qs.get(i));
        return out;
    }

    /** The first n questions, or n evenly spaced ones (deterministic, covering every article of the part). */
    public static List<QaExample> sample(List<QaExample> qs, int n, boolean spread) {
        if (n >= qs.size()) return qs;
        if (!spread) return qs.subList(0, n);
        List<QaExample> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(qs.get((int) ((long) i * qs.size() / n)));
        return out;
    }

    static List<QaExample> questions(String file, String split, String part) {
        if (split == null) return SquadReader.read(Path.of(file));
        Split s = Split.load(Path.of(split));
        if (!s.parts().contains(part))
            throw new UserException(split + ": no part '" + part + "' (has " + s.parts() + ")");
        return s.questions(part);
    }

    /**
     * Removes what a killed run left half-done in the KB: temp version folders, versions being deleted
     * ({@code .trash-*}) and temp index folders inside versions.
     */
    private static void removeTempDirs(Path kbDir) throws IOException {
        try (Stream<Path> s = Files.list(kbDir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith(".") && (n.contains(".tmp") || n.startsWith(".trash-"))) AtomicFiles.deleteTree(p);
                else if (KbVersions.isVersionName(n) && Files.isDirectory(p)) {
                    try (Stream<Path> inner = Files.list(p)) {
                        for (Path q : inner.toList()) {
                            String m = q.getFileName().toString();
                            if (m.startsWith(".") && m.contains(".tmp")) AtomicFiles.deleteTree(q);
                        }
                    }
                }
            }
        }
    }

    @Override
    public void close() {
        if (refresher != null) refresher.close();
        if (distributedEncoder != null) distributedEncoder.close();
        if (refreshHook != null) refreshHook.close();
        rag.close();
        retriever.close();
        if (janitor != null) janitor.close();
        manager.close();
    }
}
