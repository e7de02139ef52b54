package dev.rage2e.train;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.eval.AnswerEval;
import dev.rage2e.eval.QaExample;
import dev.rage2e.eval.Split;
import dev.rage2e.eval.SquadReader;
import dev.rage2e.index.HnswIndex;
import dev.rage2e.index.KbIndexBuilder;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.model.Seq2SeqModel;
import dev.rage2e.model.Seq2SeqModels;
import dev.rage2e.rag.BeamSearch;
import dev.rage2e.rag.RagDecoder;
import dev.rage2e.rag.RagExample;
import dev.rage2e.rag.RagModel;
import dev.rage2e.rag.RagSettings;
import dev.rage2e.train.refresh.AsyncKbRefresher;
import dev.rage2e.train.refresh.RefreshHook;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Assembles a training run from a {@link TrainConfig}: data, KB + retriever, the three models (fresh
 * or from the run's latest checkpoint), optimizers, periodic evaluation and, in end-to-end mode, the
 * asynchronous KB refresher. Everything is checked before the first step so bad input fails fast.
 */
public final class TrainingRun implements AutoCloseable {
    public final TrainConfig cfg;
    public final Path runDir;
    private final NDManager manager;
    private final KbRetriever retriever;
    private final RagModel rag;
    private final Trainer trainer;
    private final List<QaExample> evalSet;
    private AsyncKbRefresher refresher;

    public static TrainingRun open(TrainConfig cfg, Path runDir, boolean resume) throws IOException {
        cfg.validate();
        dev.rage2e.engine.Precision.applyAndLog(cfg.precision); // process-wide: trainer and refresher
        Path latest = resume ? Checkpoints.latestOrNull(runDir) : null;
        if (resume && latest == null && Files.exists(runDir.resolve("metrics.jsonl"))) {
            throw new UserException(runDir + ": --resume given but the run has no complete checkpoint yet");
        }
        if (!resume && Checkpoints.latestOrNull(runDir) != null) {
            throw new UserException(runDir + ": already holds a training run; use --resume to continue it or choose another --out");
        }
        return new TrainingRun(cfg, runDir, latest);
    }

    private TrainingRun(TrainConfig cfg, Path runDir, Path checkpoint) throws IOException {
        this.cfg = cfg;
        this.runDir = runDir;
        List<RagExample> data = loadTrainData(cfg);
        this.evalSet = loadEvalData(cfg);
        Path kbDir = Path.of(cfg.kb);
        KnowledgeBase kb = KnowledgeBase.open(kbDir);
        Files.createDirectories(runDir);
        Checkpoints.cleanup(runDir, Integer.MAX_VALUE);
        TrainerState state = checkpoint == null ? null : Checkpoints.readState(checkpoint);
        removeTempDirs(kbDir);
        if (checkpoint != null) {
            // resume against the index the checkpoint trained with (it is complete: versions are renamed into place)
            if (state.embeddingsVersion != null && Files.isDirectory(kbDir.resolve(state.embeddingsVersion))) {
                KbVersions.publish(kbDir, state.embeddingsVersion);
            }
            new MetricsLog(runDir.resolve("metrics.jsonl")).truncateAfter(state.step);
        } else {
            // a run that died before its first checkpoint starts over: drop the step events of the lost attempt
            new MetricsLog(runDir.resolve("metrics.jsonl")).truncateAfter(0);
        }
        this.manager = NDManager.newBaseManager();
        this.retriever = KbRetriever.open(kb, cfg.indexType);
        Path src = checkpoint;
        EncoderModel q = EncoderModel.load(src != null ? src.resolve("question_encoder") : Path.of(cfg.questionEncoder), manager);
        if (retriever.dim() != q.dim()) {
            throw new UserException(cfg.kb + ": embeddings have dim " + retriever.dim() + " but question encoder " + cfg.questionEncoder
                    + " has dim " + q.dim() + " (encode the KB with a matching encoder)");
        }
        EncoderModel c = null;
        if (cfg.trainsContextEncoder()) {
            Path ctx = src != null && Files.isDirectory(src.resolve("context_encoder")) ? src.resolve("context_encoder")
                    : Path.of(cfg.contextEncoder != null ? cfg.contextEncoder : kbEncoderPath(kb));
            c = EncoderModel.load(ctx, manager);
        }
        Seq2SeqModel g = Seq2SeqModels.load(src != null ? src.resolve("generator") : Path.of(cfg.generator), manager);
        RagSettings settings = cfg.ragSettings();
        this.rag = new RagModel(q, c, g, settings);
        if (checkpoint == null) cfg.save(runDir.resolve("config.yaml"));
        this.trainer = new Trainer(cfg, runDir, rag, retriever, data, manager, state);
        if (checkpoint != null) {
            Checkpoints.loadOptimizers(checkpoint, trainer.optimizers());
            trainer.loadedFrom(checkpoint);
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
        if (cfg.trainsContextEncoder()) {
            int probeN = Math.min(32, data.size());
            List<String> probe = new ArrayList<>();
            for (int i = 0; i < probeN; i++) probe.add(data.get(i).question());
            float[][] probeVectors = RefreshHook.probeVectors(trainer, manager, probe);
            EmbeddingsWriter.Options enc = new EmbeddingsWriter.Options(cfg.refreshBatch, c.settings.maxLength() > 256 ? 256
                    : c.settings.maxLength(), 0, 1, null);
            KbIndexBuilder builder = new KbIndexBuilder(retriever, cfg.indexType, new HnswIndex.Params(32, 100, 100, 1), enc, true);
            Path ctxDir = c.dir();
            ai.djl.Device device = refreshDevice(cfg.refreshDevice);
            this.refresher = new AsyncKbRefresher(builder, weights -> EncoderModel.fromWeights(ctxDir, weights, device), trainer.metrics(),
                    cfg.refreshThreads, probeVectors, cfg.nDocs);
            trainer.addHook(new RefreshHook(refresher, cfg.indexingFreq, probe));
        }
    }

    /** The refresher's device: {@code cpu}, or {@code gpu:N} when the engine sees that GPU (a CUDA libtorch build). */
    static ai.djl.Device refreshDevice(String spec) {
        if (spec.equals("cpu")) return ai.djl.Device.cpu();
        int n = Integer.parseInt(spec.substring(4));
        int gpus = ai.djl.engine.Engine.getInstance().getGpuCount();
        if (n >= gpus) {
            throw new UserException("refresh-device " + spec + ": the PyTorch engine sees " + gpus + " GPU(s); this build ships the CPU "
                    + "libtorch (ai.djl.pytorch:pytorch-native-cpu); put a CUDA build (pytorch-native-cu*) on the classpath to use a GPU");
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
            refresher.awaitIdle();
            refresher.publishIfReady(trainer.state().step).ifPresent(r -> { });
        }
        boolean done = trainer.state().step >= trainer.totalSteps() || trainer.stoppedByBudget();
        return done ? evaluate("final", trainer.state().step) : null;
    }

    public ObjectNode evaluate(String event, int step) throws IOException {
        if (evalSet.isEmpty()) return null;
        RagDecoder decoder = new RagDecoder(rag, new BeamSearch.Options(cfg.numBeams, cfg.maxAnswerLength, 1, 1.0f, true),
                RagDecoder.defaultMode(rag.settings.kind()));
        int[] ks = cfg.nDocs >= 5 ? new int[] {1, 5, cfg.nDocs} : new int[] {1, cfg.nDocs};
        ks = java.util.Arrays.stream(ks).distinct().toArray();
        Path preds = runDir.resolve("predictions-step" + step + ".jsonl");
        AnswerEval.Report r = AnswerEval.run(rag, decoder, retriever, evalSet, 8, ks, preds, manager, null);
        ObjectNode o = trainer.metrics().event(event);
        o.put("step", step);
        o.setAll(r.toJson());
        trainer.metrics().write(o);
        System.err.printf("%s at step %d: EM %.3f F1 %.3f recall@1 %.3f (%d questions, %.0fs)%n", event, step, r.em(), r.f1(),
                r.recall()[0], r.questions(), r.seconds());
        return o;
    }

    static String kbEncoderPath(KnowledgeBase kb) {
        Embeddings e = Embeddings.open(kb, KbVersions.requireCurrent(kb.dir()));
        String p = e.meta().path("encoder").path("path").asText(null);
        if (p == null) {
            throw new UserException(kb.dir() + ": the current embeddings were not made from a model directory; pass --context-encoder");
        }
        return p;
    }

    /** Training data from SQuAD JSON (optionally one split part) or reference-style line files. */
    public static List<RagExample> loadTrainData(TrainConfig cfg) {
        if (cfg.train == null) return LineFiles.read(Path.of(cfg.trainSource), Path.of(cfg.trainTarget));
        List<QaExample> qs = questions(cfg.train, cfg.split, cfg.part);
        List<RagExample> out = new ArrayList<>(qs.size());
        for (QaExample e : qs) out.add(new RagExample(e.id(), e.question(), e.answers()));
        if (out.isEmpty()) throw new UserException(cfg.train + ": no training questions" + (cfg.split != null ? " in part '" + cfg.part + "'" : ""));
        return out;
    }

    static List<QaExample> loadEvalData(TrainConfig cfg) {
        if (cfg.split == null || cfg.evalQuestions <= 0) return List.of();
        List<QaExample> qs = questions(cfg.train, cfg.split, cfg.evalPart);
        return sample(qs, cfg.evalQuestions, cfg.evalSample.equals("spread"));
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
        if (!s.parts().contains(part)) throw new UserException(split + ": no part '" + part + "' (has " + s.parts() + ")");
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
        rag.close();
        retriever.close();
        manager.close();
    }
}
