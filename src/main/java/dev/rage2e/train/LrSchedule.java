package dev.rage2e.train;

/**
 * Linear warmup, then linear / polynomial (power 2) decay to 0 where training ends, or constant.
 *
 * <p>Training ends at {@code total} steps or when the wall-clock budget ({@code budgetSeconds}, 0: none) is used up,
 * whichever comes first; the decay follows whichever of the two is further along. A budget-bound run (the
 * experiment's 30 minutes with an unreachable step count) would otherwise stop early in a schedule laid out over
 * steps it never takes, with the learning rate still near its peak.
 */
public record LrSchedule(Kind kind, int warmup, int total, double budgetSeconds) {
    public enum Kind implements dev.rage2e.util.Choice {
        LINEAR,
        POLYNOMIAL,
        CONSTANT;

        @Override
        public String toString() {
            return label();
        }
    }

    /** A schedule over steps only. */
    public LrSchedule(Kind kind, int warmup, int total) {
        this(kind, warmup, total, 0);
    }

    /** The factor at 0-based {@code step} of a run without a wall-clock budget. */
    public float factor(int step) {
        return factor(step, 0);
    }

    /** The factor at 0-based {@code step}, {@code secondsUsed} of the budget charged so far. */
    public float factor(int step, double secondsUsed) {
        if (warmup > 0 && step < warmup) return (float) (step + 1) / warmup;
        if (kind == Kind.CONSTANT) return 1f;
        double byStep = total > warmup ? (double) (step - warmup) / (total - warmup) : 0;
        double byTime = budgetSeconds > 0 ? secondsUsed / budgetSeconds : 0;
        double progress = Math.min(1.0, Math.max(byStep, byTime));
        return switch (kind) {
            case LINEAR -> (float) (1 - progress);
            case POLYNOMIAL -> (float) Math.pow(1 - progress, 2);
            case CONSTANT -> 1f;
        };
    }
}
