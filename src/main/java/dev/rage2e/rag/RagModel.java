package dev.rage2e.rag;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.model.ParamStore;
import dev.rage2e.model.Scalars;
import dev.rage2e.model.Seq2SeqModel;
import dev.rage2e.model.TextTokenizer;
import dev.rage2e.reader.SpanLoss;
import dev.rage2e.reader.SpanReader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * RAG (Lewis et al. 2020) with the end-to-end retriever training of Siriwardhana et al. (2021):
 * question encoder -> top-k MIPS over the published index -> doc scores q·d -> generator per
 * (passage, question) -> marginalised NLL. In end-to-end mode the retrieved passages are re-embedded
 * by the trainable context encoder, so d (and the doc scores) carry gradients to it; otherwise d is the
 * stored embedding and only the question encoder and generator learn.
 */
public final class RagModel implements AutoCloseable {
    public final EncoderModel questionEncoder;
    public final EncoderModel contextEncoder; // null when the context encoder is frozen
    public final Seq2SeqModel generator; // null when the reader is extractive
    public final SpanReader spanReader; // null when the reader is a generator
    public final RagSettings settings;

    public RagModel(
            EncoderModel questionEncoder, EncoderModel contextEncoder, Seq2SeqModel generator, RagSettings settings) {
        this(questionEncoder, contextEncoder, generator, null, settings);
    }

    public RagModel(
            EncoderModel questionEncoder, EncoderModel contextEncoder, SpanReader spanReader, RagSettings settings) {
        this(questionEncoder, contextEncoder, null, spanReader, settings);
    }

    /** With the reader of {@code reader} (a {@link Seq2SeqModel} or a {@link SpanReader}). */
    public static RagModel of(
            EncoderModel questionEncoder, EncoderModel contextEncoder, AutoCloseable reader, RagSettings settings) {
        if (reader instanceof SpanReader s) return new RagModel(questionEncoder, contextEncoder, s, settings);
        return new RagModel(questionEncoder, contextEncoder, (Seq2SeqModel) reader, settings);
    }

    private RagModel(
            EncoderModel questionEncoder,
            EncoderModel contextEncoder,
            Seq2SeqModel generator,
            SpanReader spanReader,
            RagSettings settings) {
        if ((generator == null) == (spanReader == null))
            throw new IllegalArgumentException("exactly one of generator and span reader");
        if (settings.end2end() && contextEncoder == null)
            throw new IllegalArgumentException("end-to-end mode needs a context encoder");
        if (contextEncoder != null && contextEncoder.dim() != questionEncoder.dim()) {
            throw new IllegalArgumentException("context encoder dim " + contextEncoder.dim() + " != question "
                    + "encoder dim " + questionEncoder.dim());
        }
        this.questionEncoder = questionEncoder;
        this.contextEncoder = contextEncoder;
        this.generator = generator;
        this.spanReader = spanReader;
        this.settings = settings;
    }

    /**
     * A view sharing this model's modules with other settings (e.g. another
     * n-docs); do not close it: that closes the shared modules.
     */
    public RagModel withSettings(RagSettings other) {
        return new RagModel(questionEncoder, contextEncoder, generator, spanReader, other);
    }

    /** The reader's trainable parameters (generator or span reader), by HF name. */
    public ParamStore readerParams() {
        return spanReader != null ? spanReader.model.params() : generator.params();
    }

    /** Saves the reader (generator or span reader) in its HF layout. */
    public void saveReader(Path dir) throws IOException {
        if (spanReader != null) spanReader.model.save(dir);
        else generator.save(dir);
    }

    /** "span" or "generator": what answers the question. */
    public String readerKind() {
        return spanReader != null ? "span" : "generator";
    }

    /** Wall-clock split of one forward pass, for benchmarks and metrics. */
    public static final class Timings {
        public long questionNs, retrievalNs, passageNs, generatorNs;
    }

    /** Everything one forward pass produced; arrays live in the caller's manager. */
    /**
     * {@code answerless}: examples of the batch without the answer in any
     * retrieved passage (span reader only: no reader term).
     */
    public record Output(
            NDArray loss,
            NDArray docScores,
            int[][] docIds,
            List<List<Retriever.Passage>> passages,
            String version,
            int answerless) {
        public Output(
                NDArray loss,
                NDArray docScores,
                int[][] docIds,
                List<List<Retriever.Passage>> passages,
                String version) {
            this(loss, docScores, docIds, passages, version, 0);
        }
    }

    /** Question vectors [B, H] (differentiable in training). */
    public NDArray embedQuestions(NDManager m, List<String> questions, boolean training) {
        long[][] q = questionEncoder.tokenize(questions, true, settings.maxQuestionLength());
        TextTokenizer.Batch b = TextTokenizer.pad(m, q, questionEncoder.config.padTokenId());
        return questionEncoder.embed(b.ids(), b.mask(), training);
    }

    /** Passage vectors [N, H] from the (trainable) context encoder. */
    public NDArray embedPassages(NDManager m, List<Retriever.Passage> passages, boolean training) {
        List<String> texts = new ArrayList<>(passages.size());
        // as the KB encodes them
        for (Retriever.Passage p : passages) texts.add(p.title().isEmpty() ? p.text() : p.title() + " " + p.text());
        long[][] ids = contextEncoder.tokenize(texts, false, contextEncoder.settings.maxLength());
        TextTokenizer.Batch b = TextTokenizer.pad(m, ids, contextEncoder.config.padTokenId());
        return contextEncoder.embed(b.ids(), b.mask(), training);
    }

    /**
     * Retrieval + doc scores: returns {docScores [B, n], ids, passages}. Retrieval itself uses the
     * detached question vector; the scores are recomputed as differentiable inner products.
     */
    public Output retrieve(
            NDManager m, List<String> questions, NDArray q, Retriever.Snapshot snap, boolean training, Timings t) {
        return retrieve(m, questions, q, snap, training, settings.end2end(), t);
    }

    /** As above; {@code reembed} = false scores with the stored passage embeddings even in end-to-end mode. */
    Output retrieve(
            NDManager m,
            List<String> questions,
            NDArray q,
            Retriever.Snapshot snap,
            boolean training,
            boolean reembed,
            Timings t) {
        int n = settings.nDocs();
        int b = questions.size();
        long t0 = System.nanoTime();
        float[][] qv = toRows(q);
        int fetch = settings.rerank() > 0 ? settings.rerank() : n;
        Retriever.Hits hits = snap.search(qv, fetch);
        long t1 = System.nanoTime();
        int[][] ids = hits.ids();
        if (settings.rerank() > 0 && contextEncoder != null) {
            ids = rerank(m, q, ids, snap);
        } else if (fetch != n) {
            ids = truncate(ids, n);
        }
        List<List<Retriever.Passage>> passages = new ArrayList<>();
        List<Retriever.Passage> flat = new ArrayList<>();
        for (int[] row : ids) {
            if (row.length < n)
                throw new IllegalStateException("the index returned " + row.length + " passages, n-docs is " + n);
            List<Retriever.Passage> ps = new ArrayList<>();
            for (int id : row) ps.add(snap.passage(id));
            passages.add(ps);
            flat.addAll(ps);
        }
        NDArray d;
        long t2 = System.nanoTime();
        if (reembed) {
            d = embedPassages(m, flat, training).reshape(b, n, -1);
        } else {
            float[] stored = new float[b * n * questionEncoder.dim()];
            int k = 0;
            for (int[] row : ids) {
                for (int id : row) {
                    float[] e = snap.embedding(id);
                    System.arraycopy(e, 0, stored, k, e.length);
                    k += e.length;
                }
            }
            d = m.create(stored, new Shape(b, n, questionEncoder.dim()));
        }
        NDArray scores = q.expandDims(1).mul(d).sum(new int[] {2});
        if (settings.docScoreScale() != 1f) scores = Scalars.mul(scores, settings.docScoreScale());
        long t3 = System.nanoTime();
        if (t != null) {
            t.retrievalNs += t1 - t0;
            t.passageNs += t3 - t2;
        }
        return new Output(null, scores, ids, passages, snap.version());
    }

    /** Rescores the over-retrieved candidates with the current context encoder (no grad) and keeps the top n. */
    private int[][] rerank(NDManager m, NDArray q, int[][] candidates, Retriever.Snapshot snap) {
        int n = settings.nDocs();
        int[][] out = new int[candidates.length][];
        try (NDManager sub = m.newSubManager()) {
            for (int b = 0; b < candidates.length; b++) {
                List<Retriever.Passage> ps = new ArrayList<>();
                for (int id : candidates[b]) ps.add(snap.passage(id));
                NDArray d = embedPassages(sub, ps, false).stopGradient();
                float[] s = d.matMul(q.get(b).stopGradient().expandDims(1))
                        .squeeze(1)
                        .toFloatArray();
                Integer[] order = new Integer[s.length];
                for (int i = 0; i < order.length; i++) order[i] = i;
                java.util.Arrays.sort(order, (x, y) -> Float.compare(s[y], s[x]));
                out[b] = new int[n];
                for (int j = 0; j < n; j++) out[b][j] = candidates[b][order[j]];
            }
        }
        return out;
    }

    /** The training loss (mean over the batch of the marginalised NLL) and what produced it. */
    public Output loss(NDManager m, List<RagExample> batch, Retriever.Snapshot snap, boolean training, Timings t) {
        return loss(m, batch, snap, training, true, t);
    }

    /**
     * As above; with {@code trainRetriever} false the question vectors and doc scores carry no gradient and
     * end-to-end mode scores with the stored embeddings (the generator alone learns: a retriever warm-up).
     */
    public Output loss(
            NDManager m,
            List<RagExample> batch,
            Retriever.Snapshot snap,
            boolean training,
            boolean trainRetriever,
            Timings t) {
        List<String> questions = new ArrayList<>();
        for (RagExample e : batch) questions.add(e.question());
        long t0 = System.nanoTime();
        NDArray q = trainRetriever
                ? embedQuestions(m, questions, training)
                : embedQuestions(m, questions, false).stopGradient();
        if (t != null) t.questionNs += System.nanoTime() - t0;
        Output r = retrieve(m, questions, q, snap, training, settings.end2end() && trainRetriever, t);
        long g0 = System.nanoTime();
        if (spanReader != null) {
            SpanLoss.Result sl = spanLoss(m, batch, r.passages(), r.docScores().logSoftmax(1), training);
            if (t != null) t.generatorNs += System.nanoTime() - g0;
            return new Output(
                    Scalars.div(sl.loss(), batch.size()),
                    r.docScores(),
                    r.docIds(),
                    r.passages(),
                    r.version(),
                    sl.answerless());
        }
        NDArray labels = targets(m, batch);
        NDArray logits = generatorLogits(m, questions, r.passages(), labels, training);
        NDArray loss = RagLoss.nll(
                settings.kind(),
                logits,
                r.docScores(),
                labels,
                generator.padTokenId(),
                generator.bosTokenId(),
                settings.labelSmoothing(),
                true,
                settings.excludeBosScore());
        loss = Scalars.div(loss, batch.size());
        if (t != null) t.generatorNs += System.nanoTime() - g0;
        return new Output(loss, r.docScores(), r.docIds(), r.passages(), r.version());
    }

    /**
     * The reader alone on each example's gold passage (no retrieval, p(z|x) = 1): the reader stage that gives both
     * RAG modes the same competent start. Examples without a gold passage are an error.
     */
    public Output goldLoss(NDManager m, List<RagExample> batch, boolean training, Timings t) {
        List<List<Retriever.Passage>> passages = new ArrayList<>();
        for (RagExample e : batch) {
            if (e.gold() == null) throw new IllegalArgumentException("question " + e.id() + " has no gold passage");
            passages.add(List.of(e.gold()));
        }
        long g0 = System.nanoTime();
        NDArray prior = m.zeros(new Shape(batch.size(), 1));
        NDArray loss;
        int answerless = 0;
        if (spanReader != null) {
            SpanLoss.Result sl = spanLoss(m, batch, passages, prior, training);
            loss = sl.loss();
            answerless = sl.answerless();
        } else {
            List<String> questions = new ArrayList<>();
            for (RagExample e : batch) questions.add(e.question());
            NDArray labels = targets(m, batch);
            TextTokenizer.Batch ctx = contextInputs(m, questions, passages);
            NDArray enc = generator.encode(ctx.ids(), ctx.mask(), training);
            NDArray logits = generator.decode(labels, null, enc, ctx.mask(), ctx.ids(), training);
            loss = RagLoss.nll(
                    settings.kind(),
                    logits,
                    prior,
                    labels,
                    generator.padTokenId(),
                    generator.bosTokenId(),
                    settings.labelSmoothing(),
                    true,
                    settings.excludeBosScore());
        }
        if (t != null) t.generatorNs += System.nanoTime() - g0;
        return new Output(Scalars.div(loss, batch.size()), prior, null, passages, null, answerless);
    }

    /** The span reader's marginal NLL (summed over the batch) for retrieved or given passages. */
    SpanLoss.Result spanLoss(
            NDManager m,
            List<RagExample> batch,
            List<List<Retriever.Passage>> passages,
            NDArray docLogPrior,
            boolean training) {
        List<String> questions = new ArrayList<>();
        List<List<String>> answers = new ArrayList<>();
        for (int b = 0; b < batch.size(); b++) {
            questions.add(batch.get(b).question());
            for (int j = 0; j < passages.get(b).size(); j++)
                answers.add(batch.get(b).answers());
        }
        SpanReader.Batch in = spanInputs(m, questions, passages);
        NDArray[] lp = spanReader.logProbs(in, training);
        return SpanLoss.nll(lp[0], lp[1], docLogPrior, spanReader.answerSpans(in, answers));
    }

    /** The span reader's inputs, one row per (question, passage) in (example, passage) order. */
    SpanReader.Batch spanInputs(NDManager m, List<String> questions, List<List<Retriever.Passage>> passages) {
        List<String> qs = new ArrayList<>(), titles = new ArrayList<>(), texts = new ArrayList<>();
        for (int b = 0; b < questions.size(); b++) {
            for (Retriever.Passage p : passages.get(b)) {
                qs.add(questions.get(b));
                titles.add(p.title());
                texts.add(p.text());
            }
        }
        return spanReader.inputs(m, qs, titles, texts, settings.maxCombinedLength());
    }

    /** Target token ids [B, T] with the generator's special tokens, right-padded. */
    public NDArray targets(NDManager m, List<RagExample> batch) {
        TextTokenizer tok = generator.tokenizer();
        long[][] ids = new long[batch.size()][];
        for (int i = 0; i < ids.length; i++) ids[i] = tok.encode(batch.get(i).target(), settings.maxTargetLength());
        return TextTokenizer.pad(m, ids, generator.padTokenId()).ids();
    }

    /** Generator logits [B*n, T, V] with labels fed unshifted as decoder inputs (HF RAG convention). */
    public NDArray generatorLogits(
            NDManager m,
            List<String> questions,
            List<List<Retriever.Passage>> passages,
            NDArray labels,
            boolean training) {
        int n = settings.nDocs();
        TextTokenizer.Batch ctx = contextInputs(m, questions, passages);
        NDArray enc = generator.encode(ctx.ids(), ctx.mask(), training);
        NDArray dec = labels.repeat(0, n);
        return generator.decode(dec, null, enc, ctx.mask(), ctx.ids(), training);
    }

    public TextTokenizer.Batch contextInputs(
            NDManager m, List<String> questions, List<List<Retriever.Passage>> passages) {
        List<long[]> seqs =
                GeneratorInputs.forBatch(generator.tokenizer(), questions, passages, settings.maxCombinedLength());
        return TextTokenizer.pad(m, seqs.toArray(new long[0][]), generator.padTokenId());
    }

    /** A [B, H] array as B Java rows (no gradient). */
    public static float[][] toRows(NDArray q) {
        float[] flat = q.stopGradient().toFloatArray();
        int b = (int) q.getShape().get(0), h = (int) q.getShape().get(1);
        float[][] out = new float[b][h];
        for (int i = 0; i < b; i++) System.arraycopy(flat, i * h, out[i], 0, h);
        return out;
    }

    private static int[][] truncate(int[][] ids, int n) {
        int[][] out = new int[ids.length][];
        for (int i = 0; i < ids.length; i++) out[i] = java.util.Arrays.copyOf(ids[i], Math.min(n, ids[i].length));
        return out;
    }

    @Override
    public void close() {
        questionEncoder.close();
        if (contextEncoder != null) contextEncoder.close();
        if (generator != null) generator.close();
        if (spanReader != null) spanReader.close();
    }
}
