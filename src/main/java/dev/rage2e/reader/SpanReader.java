package dev.rage2e.reader;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.rage2e.model.BertForQuestionAnswering;
import dev.rage2e.text.SquadMetrics;
import dev.rage2e.util.Choice;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An extractive reader in RAG's place of the generator: for each (question, retrieved passage) a
 * {@link BertForQuestionAnswering} scores every token as an answer start and end; training maximises the
 * marginal likelihood of the gold answer's spans over passages ({@link SpanLoss}); decoding returns the answer
 * string with the highest {@code sum_z p(z|x) · score(string | z)}, where score is the max or the sum of the
 * probabilities of the spans of z with that (normalised) text.
 */
public final class SpanReader implements AutoCloseable {
    /** How one passage's spans of the same text combine into its score for that text. */
    public enum SpanScore implements Choice {
        MAX,
        SUM;

        public static SpanScore parse(String s) {
            return Choice.parse(SpanScore.class, "span score", s);
        }

        @Override
        public String toString() {
            return label();
        }
    }

    /** Spans considered per passage when decoding (the best by start + end log-probability). */
    static final int TOP_SPANS_PER_PASSAGE = 20;

    public final BertForQuestionAnswering model;

    private final long[] clsSep;

    public SpanReader(BertForQuestionAnswering model) {
        this.model = model;
        this.clsSep = SpanInput.clsSep(model.tokenizer());
    }

    /** The reader inputs of a batch: rows in (example, passage) order, right-padded. */
    public record Batch(List<SpanInput> inputs, NDArray ids, NDArray mask, NDArray typeIds, NDArray textMask) {}

    /**
     * @param questions per row (example b's question repeated for its passages)
     * @param titles per row
     * @param texts per row
     */
    public Batch inputs(NDManager m, List<String> questions, List<String> titles, List<String> texts, int maxLen) {
        int rows = questions.size();
        int limit = Math.min(maxLen, model.config.maxPositionEmbeddings());
        List<SpanInput> in = new ArrayList<>(rows);
        int len = 1;
        for (int r = 0; r < rows; r++) {
            SpanInput s = SpanInput.build(
                    model.tokenizer(),
                    clsSep[0],
                    clsSep[1],
                    questions.get(r),
                    titles.get(r),
                    texts.get(r),
                    limit,
                    model.settings.maxQuestionTokens());
            in.add(s);
            len = Math.max(len, s.ids().length);
        }
        long pad = model.config.padTokenId();
        long[] ids = new long[rows * len], mask = new long[rows * len], types = new long[rows * len];
        boolean[] text = new boolean[rows * len];
        java.util.Arrays.fill(ids, pad);
        for (int r = 0; r < rows; r++) {
            SpanInput s = in.get(r);
            System.arraycopy(s.ids(), 0, ids, r * len, s.ids().length);
            System.arraycopy(s.typeIds(), 0, types, r * len, s.ids().length);
            java.util.Arrays.fill(mask, r * len, r * len + s.ids().length, 1L);
            java.util.Arrays.fill(text, r * len + s.textStart(), r * len + s.textStart() + s.textTokens(), true);
        }
        Shape sh = new Shape(rows, len);
        return new Batch(
                in, m.create(ids, sh), m.create(mask, sh), m.create(types, sh), SpanLoss.booleanMask(m, text, sh));
    }

    /** log p_start and log p_end [rows, L], normalised over each row's text tokens. */
    public NDArray[] logProbs(Batch b, boolean training) {
        BertForQuestionAnswering.Logits l = model.forward(b.ids(), b.mask(), b.typeIds(), training);
        return new NDArray[] {
            SpanLoss.maskedLogSoftmax(l.start(), b.textMask()), SpanLoss.maskedLogSoftmax(l.end(), b.textMask())
        };
    }

    /** The gold answer spans of every row. */
    public List<List<AnswerSpans.Span>> answerSpans(Batch b, List<List<String>> answersPerRow) {
        List<List<AnswerSpans.Span>> out = new ArrayList<>(b.inputs().size());
        Map<List<String>, java.util.Set<String>> norm = new HashMap<>();
        for (int r = 0; r < b.inputs().size(); r++) {
            java.util.Set<String> a = norm.computeIfAbsent(answersPerRow.get(r), AnswerSpans::normalized);
            out.add(AnswerSpans.find(b.inputs().get(r), a, model.settings.maxAnswerTokens()));
        }
        return out;
    }

    /**
     * A decoded answer: its text as it stands in passage {@code passage},
     * characters [start, end) of that passage's text.
     */
    public record Answer(String text, int passage, int start, int end, double probability) {}

    /**
     * Best answer per example.
     *
     * @param startLp [B*n, L] as from {@link #logProbs}
     * @param docPosterior per example, p(z|x) over its n passages
     */
    public List<Answer> decode(Batch b, NDArray startLp, NDArray endLp, float[][] docPosterior, SpanScore mode) {
        int rows = b.inputs().size();
        int n = docPosterior.length == 0 ? 1 : docPosterior[0].length;
        int len = (int) startLp.getShape().get(1);
        float[] s = startLp.toFloatArray(), e = endLp.toFloatArray();
        int maxSpan = model.settings.maxAnswerTokens();
        List<Answer> out = new ArrayList<>();
        for (int ex = 0; ex * n < rows; ex++) {
            // normalised text -> {score, best span prob, row, start, end}
            Map<String, double[]> total = new HashMap<>();
            for (int j = 0; j < n; j++) {
                int r = ex * n + j;
                SpanInput in = b.inputs().get(r);
                List<double[]> top = topSpans(s, e, r * len, in, maxSpan);
                Map<String, double[]> perText = new HashMap<>(); // text -> {combined prob, best prob, start, end}
                for (double[] c : top) {
                    String text = in.spanText((int) c[1], (int) c[2]);
                    String key = SquadMetrics.normalize(text);
                    double p = Math.exp(c[0]);
                    double[] cur = perText.get(key);
                    if (cur == null) perText.put(key, new double[] {p, p, c[1], c[2]});
                    else {
                        cur[0] = mode == SpanScore.MAX ? Math.max(cur[0], p) : cur[0] + p;
                        if (p > cur[1]) {
                            cur[1] = p;
                            cur[2] = c[1];
                            cur[3] = c[2];
                        }
                    }
                }
                double prior = docPosterior[ex][j];
                for (Map.Entry<String, double[]> t : perText.entrySet()) {
                    double[] v = t.getValue();
                    double contrib = prior * v[0];
                    double[] acc = total.get(t.getKey());
                    if (acc == null) total.put(t.getKey(), new double[] {contrib, prior * v[1], r, v[2], v[3]});
                    else {
                        acc[0] += contrib;
                        if (prior * v[1] > acc[1]) {
                            acc[1] = prior * v[1];
                            acc[2] = r;
                            acc[3] = v[2];
                            acc[4] = v[3];
                        }
                    }
                }
            }
            double[] best = null;
            for (double[] v : total.values()) if (best == null || v[0] > best[0]) best = v;
            if (best == null) {
                out.add(new Answer("", 0, 0, 0, 0));
                continue;
            }
            int r = (int) best[2];
            SpanInput in = b.inputs().get(r);
            int st = (int) best[3], en = (int) best[4];
            out.add(new Answer(
                    in.spanText(st, en),
                    r - ex * n,
                    in.charStart()[st - in.textStart()],
                    in.charEnd()[en - in.textStart()],
                    best[0]));
        }
        return out;
    }

    /**
     * The best {@link #TOP_SPANS_PER_PASSAGE} spans {lp, start, end} of one row with start <= end < start + maxSpan.
     */
    static List<double[]> topSpans(float[] s, float[] e, int offset, SpanInput in, int maxSpan) {
        int textStart = in.textStart(), textTokens = in.textTokens();
        boolean[] bound = new boolean[textTokens];
        for (int i = 0; i < textTokens; i++) bound[i] = in.canBound(i);
        java.util.PriorityQueue<double[]> heap = new java.util.PriorityQueue<>((x, y) -> Double.compare(x[0], y[0]));
        for (int a = 0; a < textTokens; a++) {
            if (!bound[a]) continue;
            float sa = s[offset + textStart + a];
            for (int z = a; z < textTokens && z - a < maxSpan; z++) {
                if (!bound[z]) continue;
                double lp = sa + e[offset + textStart + z];
                if (heap.size() < TOP_SPANS_PER_PASSAGE) heap.add(new double[] {lp, textStart + a, textStart + z});
                else if (lp > heap.peek()[0]) {
                    heap.poll();
                    heap.add(new double[] {lp, textStart + a, textStart + z});
                }
            }
        }
        return new ArrayList<>(heap);
    }

    @Override
    public void close() {
        model.close();
    }
}
