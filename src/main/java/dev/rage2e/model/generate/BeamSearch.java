package dev.rage2e.model.generate;

import ai.djl.ndarray.NDManager;
import dev.rage2e.model.GenerationConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The project's one beam search, with the semantics of HF transformers v4.40's {@code BeamSearchScorer}: 2 x num_beams
 * candidates per step, an EOS candidate finishes a hypothesis only within the top num_beams, hypotheses are scored
 * {@code sum_logprobs / generated_len ** length_penalty}, a row stops by {@code early_stopping} true/false/never, and
 * the logits processors of the config apply to the log-probabilities. What it searches over is the {@link Scorer}'s:
 * a plain generator ({@link Generation}), RAG-token (the next-token distribution marginalised over documents) or
 * one document of RAG-sequence.
 */
public final class BeamSearch {
    private BeamSearch() {}

    /** Next-token log-probabilities of every row; rows are batch x beams, the beams of a batch row adjacent. */
    public interface Scorer {
        /** Log-probabilities [rows * V] (row-major) of the position after {@code seqs[r][0, len)}. */
        float[] next(long[][] seqs, int len, NDManager sm);

        /** Row r now continues old row {@code rows[r]}. */
        void reorder(int[] rows, NDManager sm);
    }

    /**
     * A finished hypothesis: {@code tokens} start with the decoder start token and exclude EOS (as HF's
     * {@code BeamHypotheses}); {@code score} is its length-normalised log-probability.
     */
    public record Hypothesis(long[] tokens, double score) {
        /** The sequence as HF's {@code generate()} returns it: EOS appended when it ended before max_length. */
        public long[] sequence(GenerationConfig cfg) {
            if (tokens.length >= cfg.maxLength() || cfg.eosTokenId() < 0) return tokens;
            long[] s = Arrays.copyOf(tokens, tokens.length + 1);
            s[tokens.length] = cfg.eosTokenId();
            return s;
        }
    }

    /** Per batch row, its finished hypotheses (at most num_beams), best first, as HF ranks ties. */
    public static List<List<Hypothesis>> run(GenerationConfig cfg, int vocab, int batch, Scorer scorer, NDManager m) {
        int nb = cfg.numBeams();
        int rows = batch * nb;
        int keep = 2 * nb; // HF keeps max(2, 1 + #eos) * num_beams candidates
        long eos = cfg.eosTokenId();
        long[][] seqs = new long[rows][cfg.maxLength()];
        for (long[] s : seqs) s[0] = cfg.decoderStartTokenId();
        float[] beamScores = new float[rows];
        // only the first beam is live at step 1
        for (int r = 0; r < rows; r++) beamScores[r] = r % nb == 0 ? 0f : -1e9f;
        BeamHypotheses[] hyps = new BeamHypotheses[batch];
        for (int b = 0; b < batch; b++)
            hyps[b] = new BeamHypotheses(nb, cfg.lengthPenalty(), cfg.earlyStopping(), cfg.maxLength());
        boolean[] done = new boolean[batch];
        int len = 1;
        float[] candScore = new float[keep];
        int[] candFlat = new int[keep];
        while (len < cfg.maxLength()) {
            float[] logp;
            try (NDManager sm = m.newSubManager()) {
                logp = scorer.next(seqs, len, sm);
            }
            for (int r = 0; r < rows; r++) {
                int off = r * vocab;
                LogitsProcessors.apply(cfg, logp, off, vocab, seqs[r], len);
                float bs = beamScores[r];
                for (int v = 0; v < vocab; v++) logp[off + v] += bs; // float32 sums, as HF's tensors
            }
            int curLen = len + 1;
            float[] nextScores = new float[rows];
            long[] nextTokens = new long[rows];
            int[] nextRows = new int[rows];
            for (int b = 0; b < batch; b++) {
                if (done[b]) {
                    // HF points finished rows at row 0; keeping them in place is equivalent (their beams are never
                    // read again) and lets a cache keep sharing cross-attention keys/values
                    for (int j = 0; j < nb; j++) {
                        nextTokens[b * nb + j] = cfg.padTokenId();
                        nextRows[b * nb + j] = b * nb + j;
                    }
                    continue;
                }
                topK(logp, b * nb * vocab, nb * vocab, keep, candScore, candFlat);
                int beamIdx = 0;
                for (int rank = 0; rank < keep && beamIdx < nb; rank++) {
                    int beam = candFlat[rank] / vocab;
                    long tok = candFlat[rank] % vocab;
                    int src = b * nb + beam;
                    if (eos >= 0 && tok == eos) {
                        if (rank >= nb) continue; // an EOS outside the top num_beams does not finish a hypothesis
                        hyps[b].add(Arrays.copyOf(seqs[src], len), candScore[rank], curLen - 1);
                    } else {
                        nextScores[b * nb + beamIdx] = candScore[rank];
                        nextTokens[b * nb + beamIdx] = tok;
                        nextRows[b * nb + beamIdx] = src;
                        beamIdx++;
                    }
                }
                if (beamIdx < nb)
                    throw new IllegalStateException("beam search found fewer than num_beams continuations");
                done[b] = hyps[b].isDone(candScore[0], curLen);
            }
            long[][] next = new long[rows][];
            boolean identity = true;
            for (int r = 0; r < rows; r++) {
                next[r] = seqs[nextRows[r]].clone();
                next[r][len] = nextTokens[r];
                identity &= nextRows[r] == r;
            }
            seqs = next;
            beamScores = nextScores;
            len++;
            boolean allDone = true;
            for (boolean d : done) allDone &= d;
            if (allDone || len >= cfg.maxLength()) break;
            if (!identity) {
                try (NDManager sm = m.newSubManager()) {
                    scorer.reorder(nextRows, sm);
                }
            }
        }
        // open beams of unfinished rows become hypotheses of full length
        for (int b = 0; b < batch; b++) {
            if (done[b]) continue;
            for (int j = 0; j < nb; j++) {
                int r = b * nb + j;
                hyps[b].add(Arrays.copyOf(seqs[r], len), beamScores[r], len - 1);
            }
        }
        List<List<Hypothesis>> out = new ArrayList<>(batch);
        for (BeamHypotheses h : hyps) {
            List<Hypothesis> row = new ArrayList<>();
            for (BeamHypotheses.Hyp x : h.bestFirst()) row.add(new Hypothesis(x.tokens(), x.score()));
            out.add(row);
        }
        return out;
    }

    /**
     * The {@code k} largest of {@code x[off, off + n)} in descending order (ties: lower index first), as
     * positions relative to {@code off}.
     */
    static void topK(float[] x, int off, int n, int k, float[] outScore, int[] outIdx) {
        int filled = 0;
        for (int i = 0; i < n; i++) {
            float v = x[off + i];
            if (filled == k && !(v > outScore[k - 1])) continue;
            if (filled < k && Float.isNaN(v)) continue;
            int pos = filled < k ? filled++ : k - 1;
            while (pos > 0 && v > outScore[pos - 1]) {
                outScore[pos] = outScore[pos - 1];
                outIdx[pos] = outIdx[pos - 1];
                pos--;
            }
            outScore[pos] = v;
            outIdx[pos] = i;
        }
        if (filled < k) throw new IllegalStateException("fewer than " + k + " candidates");
    }
}
