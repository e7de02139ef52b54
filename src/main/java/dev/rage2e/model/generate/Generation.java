package dev.rage2e.model.generate;

import dev.rage2e.model.GenerationConfig;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.rage2e.model.Seq2SeqModel;
import dev.rage2e.model.TextTokenizer;
import java.util.Arrays;

/**
 * Greedy and beam-search decoding with the semantics of HF transformers v4.40's {@code generate()}
 * for encoder-decoders (no sampling): sequences start with the decoder start token and hold at most
 * {@code max_length} ids; finished rows are padded; beam search follows HF's {@code BeamSearchScorer}
 * (2 x num_beams candidates per step, EOS candidates kept only within the top num_beams, length-normalised
 * hypothesis scores, early_stopping true/false/never) so that sequences and {@code sequences_scores} match.
 *
 * <p>Each step feeds one token per row through {@link Seq2SeqModel#step} (key/value cache); the token
 * choice and bookkeeping run on the host over the copied scores. With {@code use_cache=false} every step
 * recomputes the whole prefix with {@link Seq2SeqModel#decode} instead (reference path for tests).
 */
public final class Generation {
    private Generation() {}

    /**
     * @param sequences [batch][length] ids (start token first, padded to a common length as HF returns them)
     * @param scores per row: the hypothesis score HF reports as {@code sequences_scores} (beam search), and the
     *     same quantity for greedy rows (sum of processed token log-probabilities / generated_len ** length_penalty)
     */
    public record Result(long[][] sequences, float[] scores) {
        /** Row {@code i} without the start token, cut at (and excluding) EOS, padding removed. */
        public long[] tokens(int i, long eos) {
            long[] s = sequences[i];
            int end = 1;
            while (end < s.length && s[end] != eos) end++;
            return Arrays.copyOfRange(s, 1, end);
        }
    }

    /** Generates for right-padded encoder inputs [B, S] with mask [B, S]. Inference only. */
    public static Result generate(Seq2SeqModel model, NDArray inputIds, NDArray attentionMask, GenerationConfig cfg) {
        try (NDManager m = inputIds.getManager().newSubManager()) {
            tempAttach(m, inputIds, attentionMask); // so that every intermediate array lands in m
            NDArray hidden = model.encode(inputIds, attentionMask, false);
            return generateFromEncoded(model, hidden, attentionMask, inputIds, cfg, m);
        }
    }

    /** Generates for token sequences of any lengths (padded here with the model's pad id). */
    public static Result generate(Seq2SeqModel model, long[][] inputIds, GenerationConfig cfg, NDManager manager) {
        try (NDManager m = manager.newSubManager()) {
            TextTokenizer.Batch b = TextTokenizer.pad(m, inputIds, model.padTokenId());
            return generate(model, b.ids(), b.mask(), cfg);
        }
    }

    /**
     * Generates from an encoder output [B, S, H] and its mask [B, S]; intermediate arrays live in sub-managers
     * of {@code manager} and are freed on return.
     */
    public static Result generateFromEncoded(Seq2SeqModel model, NDArray encoderHidden, NDArray encoderMask, GenerationConfig cfg,
            NDManager manager) {
        return generateFromEncoded(model, encoderHidden, encoderMask, null, cfg, manager);
    }

    /** As above, also given the encoder's input ids [B, S] (required by a copy-mechanism generator). */
    public static Result generateFromEncoded(Seq2SeqModel model, NDArray encoderHidden, NDArray encoderMask, NDArray sourceIds,
            GenerationConfig cfg, NDManager manager) {
        if (sourceIds == null && model.needsSourceIds()) throw new IllegalArgumentException("this generator needs the source token ids");
        try (NDManager m = manager.newSubManager()) {
            tempAttach(m, encoderHidden, encoderMask);
            int beams = cfg.numBeams();
            int batch = (int) encoderHidden.getShape().get(0);
            // beams of a row are adjacent (HF's expand): row b's beams are rows b*beams .. b*beams+beams-1
            Stepper stepper;
            if (cfg.useCache()) {
                stepper = new CachedStepper(model, encoderHidden, encoderMask, sourceIds, batch, beams, m);
            } else {
                NDArray h = beams > 1 ? encoderHidden.repeat(0, beams) : encoderHidden;
                NDArray mask = encoderMask == null ? null : beams > 1 ? encoderMask.repeat(0, beams) : encoderMask;
                NDArray ids = sourceIds == null ? null : beams > 1 ? sourceIds.repeat(0, beams) : sourceIds;
                stepper = new FullPrefixStepper(model, h, mask, ids);
            }
            try (Stepper s = stepper) {
                return beams == 1 ? greedy(model, cfg, s, (int) encoderHidden.getShape().get(0), m)
                        : beamSearch(model, cfg, s, (int) encoderHidden.getShape().get(0), m);
            }
        }
    }

    /** Attaches the arrays to {@code m} until it closes, then returns them to their managers. */
    private static void tempAttach(NDManager m, NDArray... arrays) {
        for (NDArray a : arrays) if (a != null) m.tempAttachAll(a);
    }

    /** Next-token logits for every row given the sequences so far. */
    private interface Stepper extends AutoCloseable {
        /** Logits [N * V] (row-major) of the position after {@code seqs[r][0, len)}; log-softmax when asked. */
        float[] next(long[][] seqs, int len, boolean logSoftmax, NDManager sm);

        /** Row r now continues old row {@code rows[r]}. */
        void reorder(int[] rows, NDManager sm);

        @Override
        void close();
    }

    private static float[] copy(NDArray logits, boolean logSoftmax) {
        return (logSoftmax ? logits.logSoftmax(-1) : logits).toFloatArray();
    }

    private static final class CachedStepper implements Stepper {
        private final Seq2SeqModel model;
        private Seq2SeqModel.DecoderState state;

        /** Starts on the encoder rows, then expands each to {@code beams} rows (cross keys/values are computed once per input). */
        CachedStepper(Seq2SeqModel model, NDArray hidden, NDArray mask, NDArray sourceIds, int batch, int beams, NDManager m) {
            this.model = model;
            this.state = model.startDecoding(hidden, mask, sourceIds); // plain generators ignore the (possibly null) ids
            if (beams > 1) {
                int[] rows = new int[batch * beams];
                for (int r = 0; r < rows.length; r++) rows[r] = r / beams;
                try (NDManager sm = m.newSubManager()) {
                    reorder(rows, sm);
                }
            }
        }

        @Override
        public float[] next(long[][] seqs, int len, boolean logSoftmax, NDManager sm) {
            if (state.length() != len - 1) throw new IllegalStateException("cache holds " + state.length() + " positions, expected " + (len - 1));
            long[] last = new long[seqs.length];
            for (int r = 0; r < seqs.length; r++) last[r] = seqs[r][len - 1];
            return copy(model.step(state, sm.create(last)), logSoftmax);
        }

        @Override
        public void reorder(int[] rows, NDManager sm) {
            long[] idx = new long[rows.length];
            for (int i = 0; i < rows.length; i++) idx[i] = rows[i];
            Seq2SeqModel.DecoderState next = state.reorder(sm.create(idx));
            state.close();
            state = next;
        }

        @Override
        public void close() {
            state.close();
        }
    }

    private static final class FullPrefixStepper implements Stepper {
        private final Seq2SeqModel model;
        private NDArray hidden;
        private NDArray mask;
        private NDArray sourceIds; // may be null for generators that do not use them

        FullPrefixStepper(Seq2SeqModel model, NDArray hidden, NDArray mask, NDArray sourceIds) {
            this.model = model;
            this.hidden = hidden;
            this.mask = mask;
            this.sourceIds = sourceIds;
        }

        @Override
        public float[] next(long[][] seqs, int len, boolean logSoftmax, NDManager sm) {
            long[] flat = new long[seqs.length * len];
            for (int r = 0; r < seqs.length; r++) System.arraycopy(seqs[r], 0, flat, r * len, len);
            NDArray ids = sm.create(flat, new Shape(seqs.length, len));
            NDArray logits = model.decode(ids, null, hidden, mask, sourceIds, false);
            return copy(logits.get(new NDIndex(":, -1, :")), logSoftmax);
        }

        @Override
        public void reorder(int[] rows, NDManager sm) {
            long[] idx = new long[rows.length];
            for (int i = 0; i < rows.length; i++) idx[i] = rows[i];
            NDIndex ix = new NDIndex("{}", sm.create(idx));
            // the gathered copies stay in the generation's manager; the previous ones are freed with it
            hidden = hidden.get(ix);
            if (mask != null) mask = mask.get(ix);
            if (sourceIds != null) sourceIds = sourceIds.get(ix);
        }

        @Override
        public void close() {}
    }

    private static long[][] startSequences(int rows, int maxLength, long start) {
        long[][] seqs = new long[rows][maxLength];
        for (long[] s : seqs) s[0] = start;
        return seqs;
    }

    private static Result greedy(Seq2SeqModel model, GenerationConfig cfg, Stepper stepper, int batch, NDManager m) {
        int vocab = model.vocabSize();
        long eos = cfg.eosTokenId();
        long[][] seqs = startSequences(batch, cfg.maxLength(), cfg.decoderStartTokenId());
        boolean[] finished = new boolean[batch];
        float[] sum = new float[batch];
        int[] generated = new int[batch];
        int len = 1;
        while (len < cfg.maxLength()) {
            float[] logits;
            try (NDManager sm = m.newSubManager()) {
                logits = stepper.next(seqs, len, false, sm);
            }
            boolean all = true;
            for (int r = 0; r < batch; r++) {
                int off = r * vocab;
                long tok = cfg.padTokenId();
                if (!finished[r]) {
                    float[] logp = logSoftmaxRow(logits, off, vocab);
                    LogitsProcessors.apply(cfg, logits, off, vocab, seqs[r], len);
                    LogitsProcessors.apply(cfg, logp, 0, vocab, seqs[r], len);
                    tok = argmax(logits, off, vocab);
                    sum[r] += logp[(int) tok];
                    generated[r]++;
                    if (tok == eos) finished[r] = true;
                }
                seqs[r][len] = tok;
                all &= finished[r];
            }
            len++;
            if (all) break;
        }
        float[] scores = new float[batch];
        for (int r = 0; r < batch; r++) scores[r] = (float) (sum[r] / Math.pow(Math.max(1, generated[r]), cfg.lengthPenalty()));
        long[][] out = new long[batch][];
        for (int r = 0; r < batch; r++) out[r] = Arrays.copyOf(seqs[r], len);
        return new Result(out, scores);
    }

    private static float[] logSoftmaxRow(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.exp(x[off + i] - max);
        double lse = max + Math.log(s);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) out[i] = (float) (x[off + i] - lse);
        return out;
    }

    /** First index of the maximum, as torch.argmax. */
    private static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
        return best;
    }

    private static Result beamSearch(Seq2SeqModel model, GenerationConfig cfg, Stepper stepper, int batch, NDManager m) {
        int vocab = model.vocabSize();
        int nb = cfg.numBeams();
        int rows = batch * nb;
        int keep = 2 * nb; // HF keeps max(2, 1 + #eos) * num_beams candidates
        long eos = cfg.eosTokenId();
        long[][] seqs = startSequences(rows, cfg.maxLength(), cfg.decoderStartTokenId());
        float[] beamScores = new float[rows];
        for (int r = 0; r < rows; r++) beamScores[r] = r % nb == 0 ? 0f : -1e9f; // only the first beam is live at step 1
        BeamHypotheses[] hyps = new BeamHypotheses[batch];
        for (int b = 0; b < batch; b++) hyps[b] = new BeamHypotheses(nb, cfg.lengthPenalty(), cfg.earlyStopping(), cfg.maxLength());
        boolean[] done = new boolean[batch];
        int len = 1;
        float[] candScore = new float[keep];
        int[] candFlat = new int[keep];
        while (true) {
            float[] logp;
            try (NDManager sm = m.newSubManager()) {
                logp = stepper.next(seqs, len, true, sm);
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
                    // read again) and lets the cache keep sharing cross-attention keys/values
                    for (int j = 0; j < nb; j++) {
                        nextScores[b * nb + j] = 0f;
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
                if (beamIdx < nb) throw new IllegalStateException("beam search found fewer than num_beams continuations");
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
                    stepper.reorder(nextRows, sm);
                }
            }
        }
        // finalize: open beams of unfinished rows become hypotheses of full length
        for (int b = 0; b < batch; b++) {
            if (done[b]) continue;
            for (int j = 0; j < nb; j++) {
                int r = b * nb + j;
                hyps[b].add(Arrays.copyOf(seqs[r], len), beamScores[r], len - 1);
            }
        }
        BeamHypotheses.Hyp[] best = new BeamHypotheses.Hyp[batch];
        int maxSent = 0;
        for (int b = 0; b < batch; b++) {
            best[b] = hyps[b].best();
            maxSent = Math.max(maxSent, best[b].tokens().length);
        }
        int width = Math.min(maxSent + 1, cfg.maxLength());
        long[][] out = new long[batch][width];
        float[] scores = new float[batch];
        for (int b = 0; b < batch; b++) {
            long[] t = best[b].tokens();
            Arrays.fill(out[b], cfg.padTokenId());
            System.arraycopy(t, 0, out[b], 0, t.length);
            if (t.length < width) out[b][t.length] = eos;
            scores[b] = (float) best[b].score();
        }
        return new Result(out, scores);
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
