package dev.rage2e.model.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.rage2e.model.GenerationConfig;
import dev.rage2e.model.Seq2SeqModel;
import dev.rage2e.model.TextTokenizer;
import java.util.Arrays;
import java.util.List;

/**
 * Greedy and beam-search decoding with the semantics of HF transformers v4.40's {@code generate()}
 * for encoder-decoders (no sampling): sequences start with the decoder start token and hold at most
 * {@code max_length} ids; finished rows are padded; beam search is the project's one {@link
 * BeamSearch} (HF's {@code BeamSearchScorer}), so that sequences and
 * {@code sequences_scores} match.
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
    public static Result generateFromEncoded(
            Seq2SeqModel model, NDArray encoderHidden, NDArray encoderMask, GenerationConfig cfg, NDManager manager) {
        return generateFromEncoded(model, encoderHidden, encoderMask, null, cfg, manager);
    }

    /** As above, also given the encoder's input ids [B, S] (required by a copy-mechanism generator). */
    public static Result generateFromEncoded(
            Seq2SeqModel model,
            NDArray encoderHidden,
            NDArray encoderMask,
            NDArray sourceIds,
            GenerationConfig cfg,
            NDManager manager) {
        if (sourceIds == null && model.needsSourceIds())
            throw new IllegalArgumentException("this generator needs the source token ids");
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
                return beams == 1
                        ? greedy(model, cfg, s, (int) encoderHidden.getShape().get(0), m)
                        : beamSearch(
                                model, cfg, s, (int) encoderHidden.getShape().get(0), m);
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

        /**
         * Starts on the encoder rows, then expands each to {@code beams} rows
         * (cross keys/values are computed once per input).
         */
        CachedStepper(
                Seq2SeqModel model,
                NDArray hidden,
                NDArray mask,
                NDArray sourceIds,
                int batch,
                int beams,
                NDManager m) {
            this.model = model;
            // plain generators ignore the (possibly null) ids
            this.state = model.startDecoding(hidden, mask, sourceIds);
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
            if (state.length() != len - 1)
                throw new IllegalStateException("cache holds " + state.length() + " positions, expected " + (len - 1));
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
        for (int r = 0; r < batch; r++)
            scores[r] = (float) (sum[r] / Math.pow(Math.max(1, generated[r]), cfg.lengthPenalty()));
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

    private static Result beamSearch(
            Seq2SeqModel model, GenerationConfig cfg, Stepper stepper, int batch, NDManager m) {
        BeamSearch.Scorer scorer = new BeamSearch.Scorer() {
            @Override
            public float[] next(long[][] seqs, int len, NDManager sm) {
                return stepper.next(seqs, len, true, sm);
            }

            @Override
            public void reorder(int[] rows, NDManager sm) {
                stepper.reorder(rows, sm);
            }
        };
        List<List<BeamSearch.Hypothesis>> hyps = BeamSearch.run(cfg, model.vocabSize(), batch, scorer, m);
        // HF pads the best hypotheses to one width: the longest plus its EOS, at most max_length
        int maxSent = 0;
        for (List<BeamSearch.Hypothesis> h : hyps)
            maxSent = Math.max(maxSent, h.get(0).tokens().length);
        int width = Math.min(maxSent + 1, cfg.maxLength());
        long[][] out = new long[batch][width];
        float[] scores = new float[batch];
        for (int b = 0; b < batch; b++) {
            BeamSearch.Hypothesis best = hyps.get(b).get(0);
            long[] t = best.tokens();
            Arrays.fill(out[b], cfg.padTokenId());
            System.arraycopy(t, 0, out[b], 0, t.length);
            if (t.length < width) out[b][t.length] = cfg.eosTokenId();
            scores[b] = (float) best.score();
        }
        return new Result(out, scores);
    }
}
