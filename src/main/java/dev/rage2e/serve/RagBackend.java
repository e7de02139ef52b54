package dev.rage2e.serve;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.Seq2SeqModels;
import dev.rage2e.rag.RagDecoder;
import dev.rage2e.rag.RagModel;
import dev.rage2e.rag.RagSettings;
import dev.rage2e.rag.Retriever;
import dev.rage2e.reader.SpanReader;
import dev.rage2e.train.Checkpoints;
import dev.rage2e.train.RagCheckpoint;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.util.Json;
import dev.rage2e.util.Swappable;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Answers with a trained RAG checkpoint: question encoder -> top-k passages of the KB's published
 * embeddings -> generator over (passage, question) pairs -> RAG-token beam search or RAG-sequence
 * decoding. All request threads share one loaded model read-only; each request decodes in its own
 * sub-manager of the model's manager. A newer checkpoint (the run folder's {@code latest}) is loaded
 * beside the served one and swapped in atomically; requests in flight finish on the old model, which
 * is closed after the last of them. A newer embeddings version is swapped by {@link KbRetriever#refresh()}.
 */
public final class RagBackend implements QaBackend {
    /**
     * Decoding and limits; a null field takes the checkpoint's training config ({@code num-beams},
     * {@code max-answer-length}, RAG-token beam or RAG-sequence thorough for its {@code model-type}).
     */
    public record Options(Integer beams, Integer maxAnswerLength, RagDecoder.Mode mode, String indexType, int maxK) {
        public static Options defaults() {
            return new Options(null, null, null, "auto", 20);
        }
    }

    /** One loaded checkpoint: the model, how to decode with it, and the manager that owns its parameters. */
    static final class Bundle implements AutoCloseable {
        final Path dir;
        final FileTime stamp;
        final int step;
        final RagModel rag;
        final RagDecoder.Options beams;
        final RagDecoder.Mode mode;
        final SpanReader.SpanScore spanScore;
        final NDManager manager;
        final Instant loadedAt = Instant.now();
        private final Map<Integer, RagDecoder> decoders = new ConcurrentHashMap<>();

        Bundle(
                Path dir,
                FileTime stamp,
                int step,
                RagModel rag,
                RagDecoder.Options beams,
                RagDecoder.Mode mode,
                SpanReader.SpanScore spanScore,
                NDManager manager) {
            this.spanScore = spanScore;
            this.dir = dir;
            this.stamp = stamp;
            this.step = step;
            this.rag = rag;
            this.beams = beams;
            this.mode = mode;
            this.manager = manager;
        }

        /** A decoder reading {@code k} passages: a view of the same modules with n-docs = k. */
        RagDecoder decoder(int k) {
            return decoders.computeIfAbsent(k, n -> {
                RagSettings s = rag.settings;
                RagModel view =
                        n == s.nDocs() ? rag : rag.withSettings(s.withNDocs(n).forServing());
                return new RagDecoder(view, beams, mode, spanScore);
            });
        }

        @Override
        public void close() {
            rag.close();
            manager.close();
        }
    }

    private final Path source;
    private final Options options;
    private final KnowledgeBase kb;
    private final KbRetriever retriever;
    private final Swappable<Bundle> model;
    private final int maxK;
    private final AtomicLong reloads = new AtomicLong();
    /** Decoding in micro-batches across concurrent requests (null: each request decodes alone, on its own thread). */
    private MicroBatcher<Ask, Decoded> batcher;

    /** One request: its question and how many passages it reads. */
    private record Ask(String question, int n) {}

    /** What a request's batch decoded for it: the answer, the model it came from, the batch's timings and size. */
    private record Decoded(RagDecoder.Answer answer, Meta meta, RagModel.Timings timings, int batchSize) {}

    /** What an answer reports about the model that produced it (read while the model's lease was held). */
    private record Meta(String checkpoint, int step, String reader, String modelType, String decoding) {}

    private RagBackend(Path source, Options options, KnowledgeBase kb, KbRetriever retriever, Bundle first) {
        this.source = source;
        this.options = options;
        this.kb = kb;
        this.retriever = retriever;
        this.model = new Swappable<>("model", first);
        this.maxK = Math.min(options.maxK(), kb.size());
    }

    /**
     * Opens a checkpoint folder, or a run folder (serving its {@code latest} checkpoint and following it
     * on reload), with the KB named in the checkpoint's {@code config.yaml} unless {@code kbOverride} is given.
     */
    public static RagBackend open(Path checkpointOrRun, Path kbOverride, Options options) {
        return open(checkpointOrRun, kbOverride, options, 1, 1);
    }

    /**
     * As {@link #open(Path, Path, Options)}, with the questions of up to {@code batch} concurrent requests decoded
     * together on {@code workers} batch threads ({@code batch} 1: every request decodes on its own thread).
     */
    public static RagBackend open(Path checkpointOrRun, Path kbOverride, Options options, int batch, int workers) {
        if (batch < 1) throw new UserException("--batch must be >= 1");
        RagBackend b = open0(checkpointOrRun, kbOverride, options);
        if (batch > 1) b.batcher = new MicroBatcher<>("decode-batch", workers, batch, b::decodeBatch);
        return b;
    }

    private static RagBackend open0(Path checkpointOrRun, Path kbOverride, Options options) {
        if (options.maxK() < 1) throw new UserException("max-k must be >= 1, got " + options.maxK());
        Path cp = Checkpoints.resolve(checkpointOrRun);
        Path kbDir = kbOverride != null ? kbOverride : kbFromConfig(cp);
        KnowledgeBase kb = KnowledgeBase.open(kbDir);
        KbRetriever retriever = null;
        Bundle first = null;
        try {
            retriever = KbRetriever.open(kb, options.indexType());
            first = load(cp, options);
            checkDims(first, retriever, kbDir);
            String mismatch = dev.rage2e.train.EmbeddingsMatch.mismatch(cp, kb, retriever.version());
            if (mismatch != null) System.err.println("rag: warning: " + mismatch);
            return new RagBackend(checkpointOrRun, options, kb, retriever, first);
        } catch (IOException | RuntimeException e) {
            if (first != null) first.close();
            if (retriever != null) retriever.close();
            if (e instanceof UserException u) throw u;
            throw new UserException(checkpointOrRun + ": cannot open for serving: " + e.getMessage(), e);
        }
    }

    private static Path kbFromConfig(Path cp) {
        TrainConfig cfg = TrainConfig.load(cp.resolve("config.yaml"));
        if (cfg.kb == null) throw new UserException(cp.resolve("config.yaml") + ": no 'kb'; pass --kb KB_DIR");
        Path kb = Path.of(cfg.kb);
        if (!Files.isDirectory(kb)) {
            throw new UserException(cp.resolve("config.yaml") + ": kb '" + cfg.kb + "' not found "
                    + "from " + Path.of("").toAbsolutePath()
                    + "; pass --kb KB_DIR");
        }
        return kb;
    }

    private static void checkDims(Bundle b, KbRetriever r, Path kbDir) {
        if (r.dim() != b.rag.questionEncoder.dim()) {
            throw new UserException(kbDir + ": embeddings " + r.version() + " have dim " + r.dim() + " but the "
                    + "question encoder of " + b.dir
                    + " has dim " + b.rag.questionEncoder.dim());
        }
    }

    static Bundle load(Path cp, Options o) {
        FileTime stamp = stamp(cp);
        NDManager m = NDManager.newBaseManager();
        try {
            RagCheckpoint.Loaded l = RagCheckpoint.load(cp, m);
            TrainConfig cfg = l.config();
            int beams = o.beams() != null ? o.beams() : cfg.numBeams;
            int maxLen = o.maxAnswerLength() != null ? o.maxAnswerLength() : cfg.maxAnswerLength;
            int limit = l.model().generator != null
                    ? Seq2SeqModels.maxDecoderPositions(l.model().generator)
                    : Integer.MAX_VALUE;
            if (beams < 1) throw new UserException("beams must be >= 1, got " + beams);
            if (maxLen < 2 || maxLen > limit)
                throw new UserException("max answer length must be in 2.." + limit + ", got " + maxLen);
            RagDecoder.Mode mode = o.mode() != null
                    ? o.mode()
                    : RagDecoder.defaultMode(l.model().settings.kind());
            return new Bundle(
                    l.dir(),
                    stamp,
                    l.state().step,
                    l.model(),
                    new RagDecoder.Options(beams, maxLen),
                    mode,
                    cfg.spanScore,
                    m);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** Identifies a checkpoint's contents: a re-run of the same step after a resume rewrites the same folder name. */
    private static FileTime stamp(Path cp) {
        try {
            return Files.getLastModifiedTime(cp.resolve(Checkpoints.STATE));
        } catch (IOException e) {
            throw new UserException(cp + ": cannot read " + Checkpoints.STATE + ": " + e.getMessage());
        }
    }

    @Override
    public ObjectNode answer(String question, int k) {
        int n = Math.min(k, maxK);
        long t0 = System.nanoTime();
        Ask ask = new Ask(question, n);
        Decoded d = batcher == null ? decodeBatch(List.of(ask)).get(0) : batcher.submit(ask);
        long total = System.nanoTime() - t0;
        RagDecoder.Answer a = d.answer();
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("question", question);
        o.put("answer", a.answer());
        o.put("k", n);
        ArrayNode ps = o.putArray("passages");
        for (int j = 0; j < a.passages().size(); j++) {
            Retriever.Passage p = a.passages().get(j);
            ObjectNode po = ps.addObject();
            po.put("id", p.id());
            po.put("title", p.title());
            po.put("text", p.text());
            po.put("score", a.docScores()[j]);
            po.put("posterior", a.docPosterior()[j]);
        }
        // a span reader's answer: where it was cut from (passage index, characters [start, end))
        if (a.span() != null) {
            ObjectNode sp = o.putObject("span");
            sp.put("passage", a.span().passage());
            sp.put("start", a.span().start());
            sp.put("end", a.span().end());
        }
        Meta m = d.meta();
        o.put("reader", m.reader());
        o.put("embeddings_version", a.version());
        o.put("checkpoint", m.checkpoint());
        o.put("step", m.step());
        o.put("model_type", m.modelType());
        o.put("decoding", m.decoding());
        // with batching the stage times are the batch's, and model_ms includes waiting for it
        RagModel.Timings t = d.timings();
        ObjectNode tm = o.putObject("timings");
        tm.put("question_ms", t.questionNs / 1e6);
        tm.put("retrieval_ms", (t.retrievalNs + t.passageNs) / 1e6);
        tm.put("generator_ms", t.generatorNs / 1e6);
        tm.put("model_ms", total / 1e6);
        if (batcher != null) tm.put("batch", d.batchSize());
        return o;
    }

    /**
     * Decodes the questions of concurrent requests with one model and one embeddings version, those reading the
     * same number of passages together (a decoder reads a fixed n); answers in the order asked.
     */
    private List<Decoded> decodeBatch(List<Ask> asks) {
        Inference.enter();
        try (Swappable.Lease<Bundle> lease = model.acquire();
                Retriever.Snapshot snap = retriever.acquire()) {
            Bundle b = lease.value();
            Meta meta = new Meta(
                    b.dir.getFileName().toString(),
                    b.step,
                    b.rag.readerKind(),
                    b.rag.settings.kind().label(),
                    b.rag.spanReader != null
                            ? "span-" + b.spanScore.name().toLowerCase()
                            : b.mode.name().toLowerCase());
            Decoded[] out = new Decoded[asks.size()];
            Map<Integer, List<Integer>> byN = new LinkedHashMap<>();
            for (int i = 0; i < asks.size(); i++)
                byN.computeIfAbsent(asks.get(i).n(), x -> new ArrayList<>()).add(i);
            for (Map.Entry<Integer, List<Integer>> g : byN.entrySet()) {
                List<String> qs = new ArrayList<>();
                for (int i : g.getValue()) qs.add(asks.get(i).question());
                RagModel.Timings t = new RagModel.Timings();
                List<RagDecoder.Answer> answers = b.decoder(g.getKey()).answer(b.manager, qs, snap, t);
                for (int j = 0; j < qs.size(); j++)
                    out[g.getValue().get(j)] = new Decoded(answers.get(j), meta, t, asks.size());
            }
            return List.of(out);
        }
    }

    @Override
    public int batchCapacity() {
        return batcher == null ? 1 : batcher.maxBatch();
    }

    @Override
    public ObjectNode health() {
        ObjectNode h = Json.MAPPER.createObjectNode();
        h.put("status", "ok");
        h.put("mode", "rag");
        h.put("generator", true);
        try (Swappable.Lease<Bundle> lease = model.acquire()) {
            Bundle b = lease.value();
            h.put("checkpoint", b.dir.toString());
            h.put("step", b.step);
            h.put("model_type", b.rag.settings.kind().label());
            h.put("decoding", b.mode.name().toLowerCase());
            h.put("beams", b.beams.beams());
            h.put("max_answer_length", b.beams.maxLength());
            h.put("default_k", Math.min(b.rag.settings.nDocs(), maxK));
            h.put("loaded_at", b.loadedAt.toString());
        }
        h.put("source", source.toString());
        h.put("kb", kb.dir().toString());
        h.put("passages", kb.size());
        h.put("embeddings_version", retriever.version());
        h.put("index", retriever.resolvedIndexType());
        h.put("max_k", maxK);
        h.put("models_open", model.openValues());
        h.put("reloads", reloads.get());
        MicroBatcher.describe(h, batcher);
        return h;
    }

    /**
     * Follows the run folder's {@code latest} (and a rewritten checkpoint) and the KB's {@code current}.
     * Loading happens on the calling thread while requests keep being served by the current model.
     */
    @Override
    public synchronized ObjectNode reload() {
        Path next = Checkpoints.resolve(source);
        FileTime stamp = stamp(next);
        String before;
        boolean modelChanged = false;
        try (Swappable.Lease<Bundle> lease = model.acquire()) {
            Bundle cur = lease.value();
            before = cur.dir.getFileName().toString();
            modelChanged = !next.equals(cur.dir) || !stamp.equals(cur.stamp);
        }
        if (modelChanged) {
            Bundle b = load(next, options);
            try {
                checkDims(b, retriever, kb.dir());
            } catch (RuntimeException e) {
                b.close();
                throw e;
            }
            model.swap(b);
        }
        String embBefore = retriever.version();
        boolean embChanged;
        try {
            embChanged = retriever.refresh();
        } catch (IOException e) {
            throw new UserException(kb.dir() + ": cannot load the current embeddings version: " + e.getMessage(), e);
        }
        if (modelChanged || embChanged) reloads.incrementAndGet();
        ObjectNode o = health();
        o.put("checkpoint_changed", modelChanged);
        if (modelChanged) o.put("checkpoint_before", before);
        o.put("embeddings_changed", embChanged);
        if (embChanged) o.put("embeddings_before", embBefore);
        return o;
    }

    @Override
    public int defaultK() {
        try (Swappable.Lease<Bundle> lease = model.acquire()) {
            return Math.min(lease.value().rag.settings.nDocs(), maxK);
        }
    }

    @Override
    public int maxK() {
        return maxK;
    }

    /**
     * NDArrays held by the served model's manager and its sub-managers
     * (constant between requests unless something leaks).
     */
    int managedArrays() {
        try (Swappable.Lease<Bundle> lease = model.acquire()) {
            return ((ai.djl.ndarray.BaseNDManager) lease.value().manager)
                    .getManagedArrays()
                    .size();
        }
    }

    /** Loaded models not yet closed (2 while requests finish on a replaced one). */
    public int modelsOpen() {
        return model.openValues();
    }

    @Override
    public void close() {
        if (batcher != null) batcher.close();
        model.close();
        retriever.close();
    }
}
