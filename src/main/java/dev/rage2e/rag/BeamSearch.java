package dev.rage2e.rag;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Beam search over any next-token distribution: plain generation, RAG-token (distribution marginalised
 * over documents at each step) or one document of RAG-sequence. Hypotheses that emit EOS are finished
 * with score sum(log p) / length^lengthPenalty; a batch row stops when it has {@code beams} finished
 * hypotheses and no running beam can beat the worst of them (or at once with early stopping).
 */
public final class BeamSearch {
    private BeamSearch() {}

    /** Supplies log-probabilities and follows beam reordering. */
    public interface Scorer {
        /** Log-probs [rows, V] of the next token after feeding {@code lastTokens} [rows] (rows = batch*beams). */
        NDArray next(NDManager m, NDArray lastTokens);

        /** Keep state rows {@code rows} (int64 [batch*beams]) in that order. */
        void reorder(NDArray rows);
    }

    public record Hypothesis(long[] tokens, float score) {}

    public record Options(int beams, int maxLength, int minLength, float lengthPenalty, boolean earlyStopping) {
        public Options {
            if (beams < 1) throw new IllegalArgumentException("num-beams must be >= 1");
            if (maxLength < 1) throw new IllegalArgumentException("max-length must be >= 1");
        }
    }

    /**
     * @return per batch row, finished hypotheses best first (tokens start with {@code startToken}).
     */
    public static List<List<Hypothesis>> run(NDManager m, int batch, long startToken, long eos, Options o, Scorer scorer) {
        int beams = o.beams();
        int rows = batch * beams;
        long[][] seqs = new long[rows][];
        for (int r = 0; r < rows; r++) seqs[r] = new long[] {startToken};
        float[] beamScores = new float[rows];
        for (int r = 0; r < rows; r++) beamScores[r] = r % beams == 0 ? 0f : -1e9f; // only beam 0 is live at start
        List<List<Hypothesis>> done = new ArrayList<>();
        boolean[] finished = new boolean[batch];
        for (int b = 0; b < batch; b++) done.add(new ArrayList<>());
        long[] last = new long[rows];
        Arrays.fill(last, startToken);
        for (int step = 1; step <= o.maxLength() - 1; step++) {
            try (NDManager sub = m.newSubManager()) {
                NDArray lp = scorer.next(sub, sub.create(last));
                int v = (int) lp.getShape().get(1);
                float[] logp = lp.toFloatArray();
                if (step < o.minLength()) {
                    for (int r = 0; r < rows; r++) logp[r * v + (int) eos] = Float.NEGATIVE_INFINITY;
                }
                for (int r = 0; r < rows; r++) {
                    for (int t = 0; t < v; t++) logp[r * v + t] += beamScores[r];
                }
                NDArray all = sub.create(logp, new Shape(batch, (long) beams * v));
                int k = Math.min(2 * beams, beams * v);
                NDList top = all.topK(k, 1, true, true);
                float[] topScores = top.get(0).toFloatArray();
                long[] topIdx = top.get(1).toLongArray();
                long[] srcRows = new long[rows];
                long[] nextTok = new long[rows];
                float[] nextScores = new float[rows];
                for (int b = 0; b < batch; b++) {
                    int filled = 0;
                    if (finished[b]) {
                        for (int j = 0; j < beams; j++) {
                            srcRows[b * beams + j] = b * beams;
                            nextTok[b * beams + j] = eos;
                            nextScores[b * beams + j] = -1e9f;
                        }
                        continue;
                    }
                    for (int c = 0; c < k && filled < beams; c++) {
                        long idx = topIdx[b * k + c];
                        int beam = (int) (idx / v);
                        long tok = idx % v;
                        float score = topScores[b * k + c];
                        int src = b * beams + beam;
                        if (tok == eos) {
                            if (c >= beams) continue; // as HF: an EOS outside the top beams is not a candidate
                            addFinished(done.get(b), append(seqs[src], tok), score, o, beams);
                        } else {
                            int dst = b * beams + filled++;
                            srcRows[dst] = src;
                            nextTok[dst] = tok;
                            nextScores[dst] = score;
                        }
                    }
                    float bestRunning = nextScores[b * beams];
                    if (isDone(done.get(b), bestRunning, step + 1, o, beams)) finished[b] = true;
                }
                long[][] newSeqs = new long[rows][];
                for (int r = 0; r < rows; r++) newSeqs[r] = append(seqs[(int) srcRows[r]], nextTok[r]);
                seqs = newSeqs;
                beamScores = nextScores;
                last = nextTok;
                boolean all_done = true;
                for (boolean f : finished) all_done &= f;
                if (all_done) break;
                scorer.reorder(m.create(srcRows));
            }
        }
        for (int b = 0; b < batch; b++) {
            if (finished[b]) continue;
            for (int j = 0; j < beams; j++) {
                int r = b * beams + j;
                if (beamScores[r] > -1e8f) addFinished(done.get(b), seqs[r], beamScores[r], o, beams);
            }
        }
        for (List<Hypothesis> h : done) h.sort((a, c) -> Float.compare(c.score(), a.score()));
        return done;
    }

    private static void addFinished(List<Hypothesis> hyps, long[] tokens, float sumLogp, Options o, int beams) {
        float score = (float) (sumLogp / Math.pow(tokens.length, o.lengthPenalty()));
        hyps.add(new Hypothesis(tokens, score));
        if (hyps.size() > beams) {
            hyps.sort((a, c) -> Float.compare(c.score(), a.score()));
            hyps.remove(hyps.size() - 1);
        }
    }

    private static boolean isDone(List<Hypothesis> hyps, float bestRunningSum, int curLen, Options o, int beams) {
        if (hyps.size() < beams) return false;
        if (o.earlyStopping()) return true;
        float worst = Float.POSITIVE_INFINITY;
        for (Hypothesis h : hyps) worst = Math.min(worst, h.score());
        return worst >= bestRunningSum / Math.pow(curLen, o.lengthPenalty());
    }

    private static long[] append(long[] s, long t) {
        long[] out = Arrays.copyOf(s, s.length + 1);
        out[s.length] = t;
        return out;
    }
}
