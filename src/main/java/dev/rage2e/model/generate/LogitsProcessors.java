package dev.rage2e.model.generate;

import dev.rage2e.model.GenerationConfig;
import java.util.Arrays;

/**
 * HF's logits processors that {@link GenerationConfig} enables, applied in HF's order to one row of
 * next-token scores (raw logits for greedy, log-softmax for beam search):
 * {@code NoRepeatNGramLogitsProcessor}, {@code MinLengthLogitsProcessor},
 * {@code ForcedBOSTokenLogitsProcessor}, {@code ForcedEOSTokenLogitsProcessor}.
 */
final class LogitsProcessors {
    private LogitsProcessors() {}

    /**
     * @param scores all rows' scores, this row at {@code [off, off + vocab)}
     * @param seq the row's tokens so far (decoder start token first); {@code curLen} of them are valid
     */
    static void apply(GenerationConfig c, float[] scores, int off, int vocab, long[] seq, int curLen) {
        int n = c.noRepeatNgramSize();
        if (n > 0 && curLen + 1 >= n) {
            for (long t : bannedByNgrams(seq, curLen, n)) scores[off + (int) t] = Float.NEGATIVE_INFINITY;
        }
        if (c.minLength() > 0 && c.eosTokenId() >= 0 && curLen < c.minLength()) {
            scores[off + (int) c.eosTokenId()] = Float.NEGATIVE_INFINITY;
        }
        if (c.forcedBosTokenId() >= 0 && curLen == 1) force(scores, off, vocab, c.forcedBosTokenId());
        if (c.forcedEosTokenId() >= 0 && curLen == c.maxLength() - 1) force(scores, off, vocab, c.forcedEosTokenId());
    }

    private static void force(float[] scores, int off, int vocab, long token) {
        Arrays.fill(scores, off, off + vocab, Float.NEGATIVE_INFINITY);
        scores[off + (int) token] = 0f;
    }

    /** Tokens that would repeat an n-gram already in {@code seq[0, curLen)} (start token included, as HF). */
    static long[] bannedByNgrams(long[] seq, int curLen, int n) {
        int start = curLen + 1 - n; // the last n-1 tokens form the prefix of the next n-gram
        long[] out = new long[Math.max(0, curLen - n + 1)];
        int k = 0;
        outer:
        for (int i = 0; i + n <= curLen; i++) {
            for (int j = 0; j < n - 1; j++) {
                if (seq[i + j] != seq[start + j]) continue outer;
            }
            out[k++] = seq[i + n - 1];
        }
        return Arrays.copyOf(out, k);
    }
}
