package dev.rage2e.rag;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rage2e.model.GenerationConfig;
import dev.rage2e.model.Seq2SeqModel;
import dev.rage2e.model.TextTokenizer;
import dev.rage2e.model.generate.BeamSearch;
import dev.rage2e.reader.SpanReader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Answer generation for a trained {@link RagModel} (Lewis et al. 2020, §2.5):
 * RAG-token beam search marginalises the next-token distribution over the retrieved documents at every
 * step; RAG-sequence runs beam search per document and then scores every candidate against all
 * documents ("thorough") or only against the documents whose beams produced it ("fast").
 */
public final class RagDecoder {
    public enum Mode {
        TOKEN,
        THOROUGH,
        FAST
    }

    /** Beam width and maximum answer length in tokens (decoder start token included, as HF's max_length). */
    public record Options(int beams, int maxLength) {
        public Options {
            if (beams < 1) throw new IllegalArgumentException("num-beams must be >= 1");
            if (maxLength < 1) throw new IllegalArgumentException("max-length must be >= 1");
        }
    }

    private final RagModel rag;
    private final Options options;
    private final Mode mode;
    private final SpanReader.SpanScore spanScore;

    public RagDecoder(RagModel rag, Options options, Mode mode) {
        this(rag, options, mode, SpanReader.SpanScore.MAX);
    }

    /**
     * {@code spanScore}: how a span reader combines the spans of one answer
     * string in a passage (ignored by generators).
     */
    public RagDecoder(RagModel rag, Options options, Mode mode, SpanReader.SpanScore spanScore) {
        this.rag = rag;
        this.options = options;
        this.mode = mode;
        this.spanScore = spanScore;
    }

    /** The default decoding for a model type: RAG-token beam, or RAG-sequence thorough. */
    public static Mode defaultMode(RagLoss.Kind kind) {
        return kind == RagLoss.Kind.TOKEN ? Mode.TOKEN : Mode.THOROUGH;
    }

    /**
     * A decoded answer. {@code span} is where a span reader cut it from: passage index (into {@code passages}) and
     * characters [start, end) of that passage's text; null for generated answers.
     */
    public record Answer(
            String question,
            String answer,
            long[] tokens,
            List<Retriever.Passage> passages,
            float[] docScores,
            float[] docPosterior,
            String version,
            AnswerSpan span) {}

    public record AnswerSpan(int passage, int start, int end) {}

    public List<Answer> answer(NDManager parent, List<String> questions, Retriever.Snapshot snap) {
        return answer(parent, questions, snap, null);
    }

    /**
     * As {@link #answer(NDManager, List, Retriever.Snapshot)}, adding the
     * time of each stage to {@code t} (may be null).
     */
    public List<Answer> answer(NDManager parent, List<String> questions, Retriever.Snapshot snap, RagModel.Timings t) {
        try (NDManager m = parent.newSubManager()) {
            long t0 = System.nanoTime();
            NDArray q = rag.embedQuestions(m, questions, false);
            if (t != null) t.questionNs += System.nanoTime() - t0;
            RagModel.Output r = rag.retrieve(m, questions, q, snap, false, t);
            return decode(m, rag, questions, r, t);
        }
    }

    /**
     * Answers each question from the one passage given for it (its gold passage), p(z|x) = 1: the reader's
     * quality on its own, apart from retrieval.
     */
    public List<Answer> answerFromPassages(NDManager parent, List<String> questions, List<Retriever.Passage> passages) {
        try (NDManager m = parent.newSubManager()) {
            RagSettings s = rag.settings;
            RagSettings one = s.withNDocs(1).forServing();
            RagModel view = rag.withSettings(one);
            List<List<Retriever.Passage>> ps = new ArrayList<>();
            int[][] ids = new int[passages.size()][];
            for (int i = 0; i < passages.size(); i++) {
                ps.add(List.of(passages.get(i)));
                ids[i] = new int[] {passages.get(i).id()};
            }
            RagModel.Output r = new RagModel.Output(null, m.zeros(new Shape(passages.size(), 1)), ids, ps, null);
            return decode(m, view, questions, r, null);
        }
    }

    private List<Answer> decode(
            NDManager m, RagModel model, List<String> questions, RagModel.Output r, RagModel.Timings t) {
        long g0 = System.nanoTime();
        NDArray docLp = r.docScores().logSoftmax(1);
        float[] scores = r.docScores().toFloatArray();
        float[] post = docLp.exp().toFloatArray();
        int n = model.settings.nDocs();
        List<Answer> out = new ArrayList<>();
        if (model.spanReader != null) {
            List<SpanReader.Answer> spans = spanAnswers(m, model, questions, r, post);
            if (t != null) t.generatorNs += System.nanoTime() - g0;
            for (int b = 0; b < questions.size(); b++) {
                SpanReader.Answer a = spans.get(b);
                out.add(new Answer(
                        questions.get(b),
                        a.text(),
                        new long[0],
                        r.passages().get(b),
                        java.util.Arrays.copyOfRange(scores, b * n, b * n + n),
                        java.util.Arrays.copyOfRange(post, b * n, b * n + n),
                        r.version(),
                        a.text().isEmpty() ? null : new AnswerSpan(a.passage(), a.start(), a.end())));
            }
            return out;
        }
        List<long[]> best =
                mode == Mode.TOKEN ? ragToken(m, model, questions, r, docLp) : ragSequence(m, model, questions, r);
        if (t != null) t.generatorNs += System.nanoTime() - g0;
        Seq2SeqModel g = model.generator;
        for (int b = 0; b < questions.size(); b++) {
            String text = g.tokenizer().decode(best.get(b), true).trim();
            out.add(new Answer(
                    questions.get(b),
                    text,
                    best.get(b),
                    r.passages().get(b),
                    java.util.Arrays.copyOfRange(scores, b * n, b * n + n),
                    java.util.Arrays.copyOfRange(post, b * n, b * n + n),
                    r.version(),
                    null));
        }
        return out;
    }

    private List<SpanReader.Answer> spanAnswers(
            NDManager m, RagModel model, List<String> questions, RagModel.Output r, float[] post) {
        int n = model.settings.nDocs();
        float[][] prior = new float[questions.size()][];
        for (int b = 0; b < questions.size(); b++) prior[b] = java.util.Arrays.copyOfRange(post, b * n, b * n + n);
        SpanReader.Batch in = model.spanInputs(m, questions, r.passages());
        NDArray[] lp = model.spanReader.logProbs(in, false);
        return model.spanReader.decode(in, lp[0], lp[1], prior, spanScore);
    }

    private List<long[]> ragToken(NDManager m, RagModel rag, List<String> questions, RagModel.Output r, NDArray docLp) {
        Seq2SeqModel g = rag.generator;
        int n = rag.settings.nDocs(), beams = options.beams(), batch = questions.size();
        TextTokenizer.Batch ctx = rag.contextInputs(m, questions, r.passages());
        NDArray enc = g.encode(ctx.ids(), ctx.mask(), false);
        // rows ordered (example, beam, doc): doc rows of example b repeated for each beam
        long[] rows = new long[batch * beams * n];
        for (int b = 0, i = 0; b < batch; b++)
            for (int k = 0; k < beams; k++) for (int j = 0; j < n; j++) rows[i++] = (long) b * n + j;
        // start on the unexpanded (example, doc) rows and expand by reorder, so cross-attention keys/values are
        // computed once per passage and shared by the beams
        Seq2SeqModel.DecoderState[] state = {
            g.startDecoding(enc, ctx.mask(), ctx.ids()).reorder(m.create(rows))
        };
        NDArray prior = docLp.repeat(0, beams).expandDims(2); // [batch*beams, n, 1]
        BeamSearch.Scorer scorer = new BeamSearch.Scorer() {
            @Override
            public float[] next(long[][] seqs, int len, NDManager sub) {
                NDArray logits =
                        g.step(state[0], sub.create(lastTokens(seqs, len)).repeat(0, n));
                long v = logits.getShape().get(1);
                NDArray lp = logits.logSoftmax(1).reshape(-1, n, v).add(prior);
                return RagLoss.logSumExp(lp, 1).toFloatArray();
            }

            @Override
            public void reorder(int[] beamRows, NDManager sub) {
                long[] docRows = new long[beamRows.length * n];
                for (int i = 0; i < beamRows.length; i++)
                    for (int j = 0; j < n; j++) docRows[i * n + j] = (long) beamRows[i] * n + j;
                Seq2SeqModel.DecoderState old = state[0];
                state[0] = old.reorder(m.create(docRows));
                old.close();
            }
        };
        GenerationConfig cfg = generationConfig(g);
        List<List<BeamSearch.Hypothesis>> hyps = BeamSearch.run(cfg, g.vocabSize(), batch, scorer, m);
        List<long[]> out = new ArrayList<>();
        for (List<BeamSearch.Hypothesis> h : hyps) out.add(h.get(0).sequence(cfg));
        return out;
    }

    private List<long[]> ragSequence(NDManager m, RagModel rag, List<String> questions, RagModel.Output r) {
        Seq2SeqModel g = rag.generator;
        int n = rag.settings.nDocs(), beams = options.beams();
        GenerationConfig cfg = generationConfig(g);
        TextTokenizer.Batch ctx = rag.contextInputs(m, questions, r.passages());
        NDArray enc = g.encode(ctx.ids(), ctx.mask(), false);
        List<long[]> out = new ArrayList<>();
        for (int b = 0; b < questions.size(); b++) {
            // 1) beam search on each document separately (rows = docs of this example)
            long[] rows = new long[n * beams];
            for (int j = 0, i = 0; j < n; j++) for (int k = 0; k < beams; k++) rows[i++] = (long) b * n + j;
            Seq2SeqModel.DecoderState[] state = {
                g.startDecoding(enc, ctx.mask(), ctx.ids()).reorder(m.create(rows))
            };
            BeamSearch.Scorer scorer = new BeamSearch.Scorer() {
                @Override
                public float[] next(long[][] seqs, int len, NDManager sub) {
                    return g.step(state[0], sub.create(lastTokens(seqs, len)))
                            .logSoftmax(1)
                            .toFloatArray();
                }

                @Override
                public void reorder(int[] beamRows, NDManager sub) {
                    long[] idx = new long[beamRows.length];
                    for (int i = 0; i < idx.length; i++) idx[i] = beamRows[i];
                    Seq2SeqModel.DecoderState old = state[0];
                    state[0] = old.reorder(m.create(idx));
                    old.close();
                }
            };
            List<List<BeamSearch.Hypothesis>> perDoc = BeamSearch.run(cfg, g.vocabSize(), n, scorer, m);
            Map<String, long[]> candidates = new LinkedHashMap<>();
            Map<String, boolean[]> producedBy = new LinkedHashMap<>();
            for (int j = 0; j < n; j++) {
                for (BeamSearch.Hypothesis h : perDoc.get(j)) {
                    long[] seq = h.sequence(cfg);
                    String key = java.util.Arrays.toString(seq);
                    candidates.putIfAbsent(key, seq);
                    producedBy.computeIfAbsent(key, x -> new boolean[n])[j] = true;
                }
            }
            if (candidates.isEmpty()) {
                out.add(new long[0]);
                continue;
            }
            // 2) score every candidate y: log sum_z p(z|x) p(y|x,z), all docs (thorough) or producing docs (fast)
            List<long[]> cands = new ArrayList<>(candidates.values());
            List<boolean[]> masks = new ArrayList<>(producedBy.values());
            int c = cands.size();
            NDArray labels = TextTokenizer.pad(m, cands.toArray(new long[0][]), g.padTokenId())
                    .ids(); // [C, T]
            long[] encRows = new long[c * n];
            for (int i = 0; i < c; i++) for (int j = 0; j < n; j++) encRows[i * n + j] = (long) b * n + j;
            NDArray er = m.create(encRows);
            NDArray logits = g.decode(
                    labels.repeat(0, n),
                    null,
                    enc.get(er),
                    ctx.mask().get(er),
                    ctx.ids().get(er),
                    false);
            // log p(y|x,z) per (candidate, doc): targets are the labels shifted left; the leading BOS of
            // generated sequences is not scored (HF's exclude_bos_score)
            NDArray target = RagLoss.shiftLeft(labels, g.padTokenId()).repeat(0, n); // [C*n, T]
            NDArray tokLp =
                    logits.logSoftmax(-1).gather(target.expandDims(-1), 2).squeeze(-1);
            NDArray keep = target.neq(g.padTokenId());
            if (target.get(":, 0").eq(g.bosTokenId()).all().getBoolean()) {
                keep = keep.logicalAnd(
                        m.arange(target.getShape().get(1)).expandDims(0).gt(0));
            }
            float[] ll = tokLp.mul(keep.toType(DataType.FLOAT32, false))
                    .sum(new int[] {1})
                    .toFloatArray();
            float[] docLp = r.docScores().get(b).logSoftmax(0).toFloatArray();
            float[] total = new float[c];
            for (int i = 0; i < c; i++) {
                double max = Double.NEGATIVE_INFINITY;
                double[] terms = new double[n];
                for (int j = 0; j < n; j++) {
                    // fast: p(y|x,z) ~ 0 where z's beams missed y
                    boolean use = mode == Mode.THOROUGH || masks.get(i)[j];
                    terms[j] = use ? docLp[j] + ll[i * n + j] : Double.NEGATIVE_INFINITY;
                    max = Math.max(max, terms[j]);
                }
                double sum = 0;
                for (double t : terms) sum += Math.exp(t - max);
                total[i] = (float) (max + Math.log(sum));
            }
            int bestIdx = 0;
            for (int i = 1; i < c; i++) if (total[i] > total[bestIdx]) bestIdx = i;
            out.add(cands.get(bestIdx));
        }
        return out;
    }

    /**
     * HF's defaults for the generator's special tokens with this decoder's beams and length, early stopping on: the
     * generator's own generation_config.json (forced BOS, n-gram bans) is not applied, as it never was here.
     */
    private GenerationConfig generationConfig(Seq2SeqModel g) {
        return GenerationConfig.defaults(g)
                .withNumBeams(options.beams())
                .withMaxLength(options.maxLength())
                .withEarlyStopping(GenerationConfig.EarlyStopping.TRUE);
    }

    private static long[] lastTokens(long[][] seqs, int len) {
        long[] last = new long[seqs.length];
        for (int r = 0; r < seqs.length; r++) last[r] = seqs[r][len - 1];
        return last;
    }
}
