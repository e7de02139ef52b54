package dev.rage2e.model.generate;

import dev.rage2e.model.GenerationConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * The finished hypotheses of one batch row, as HF's {@code BeamHypotheses}: at most {@code numBeams},
 * each scored {@code sum_logprobs / generated_len ** length_penalty} (generated_len excludes the
 * decoder start token and includes EOS), with HF's tie-breaking so that the same hypothesis wins.
 */
final class BeamHypotheses {
    record Hyp(double score, long[] tokens) {}

    private final int numBeams;
    private final double lengthPenalty;
    private final GenerationConfig.EarlyStopping earlyStopping;
    private final int maxLength;
    private final List<Hyp> beams = new ArrayList<>();
    private double worstScore = 1e9;

    BeamHypotheses(int numBeams, double lengthPenalty, GenerationConfig.EarlyStopping earlyStopping, int maxLength) {
        this.numBeams = numBeams;
        this.lengthPenalty = lengthPenalty;
        this.earlyStopping = earlyStopping;
        this.maxLength = maxLength;
    }

    int size() {
        return beams.size();
    }

    void add(long[] tokens, float sumLogprobs, int generatedLen) {
        double score = sumLogprobs / Math.pow(generatedLen, lengthPenalty);
        if (beams.size() < numBeams || score > worstScore) {
            beams.add(new Hyp(score, tokens));
            if (beams.size() > numBeams) {
                // HF sorts (score, index) pairs: drop the lowest (first index on ties); the next one is the new worst
                int worst = 0;
                for (int i = 1; i < beams.size(); i++)
                    if (beams.get(i).score() < beams.get(worst).score()) worst = i;
                beams.remove(worst);
                int next = 0;
                for (int i = 1; i < beams.size(); i++)
                    if (beams.get(i).score() < beams.get(next).score()) next = i;
                worstScore = beams.get(next).score();
            } else {
                worstScore = Math.min(score, worstScore);
            }
        }
    }

    /**
     * Whether no open beam can beat the finished ones ({@code bestSumLogprobs}: best candidate score of
     * this step, {@code curLen}: sequence length after this step, start token included).
     */
    boolean isDone(float bestSumLogprobs, int curLen) {
        if (beams.size() < numBeams) return false;
        return switch (earlyStopping) {
            case TRUE -> true;
            case FALSE -> worstScore >= bestSumLogprobs / Math.pow(curLen - 1, lengthPenalty);
            case NEVER ->
                worstScore >= bestSumLogprobs / Math.pow(lengthPenalty > 0 ? maxLength - 1 : curLen - 1, lengthPenalty);
        };
    }

    /** All hypotheses, best first; among equal scores the one added later first (so the first is {@link #best()}). */
    List<Hyp> bestFirst() {
        List<Hyp> out = new ArrayList<>(beams);
        java.util.Collections.reverse(out);
        out.sort((x, y) -> Double.compare(y.score(), x.score())); // stable: ties stay later-added first
        return out;
    }

    /** The best hypothesis; among equal scores the one added last (HF's stable sort, then pop()). */
    Hyp best() {
        Hyp best = null;
        for (Hyp h : beams) if (best == null || h.score() >= best.score()) best = h;
        return best;
    }
}
