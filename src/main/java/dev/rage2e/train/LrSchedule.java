package dev.rage2e.train;

/** Linear warmup, then linear / polynomial (power 2) decay to 0 at {@code total}, or constant. */
public record LrSchedule(Kind kind, int warmup, int total) {
    public enum Kind implements dev.rage2e.util.Choice {
        LINEAR,
        POLYNOMIAL,
        CONSTANT;

        @Override
        public String toString() {
            return label();
        }
    }

    public float factor(int step) {
        if (warmup > 0 && step < warmup) return (float) (step + 1) / warmup;
        if (kind == Kind.CONSTANT || total <= warmup) return 1f;
        double progress = Math.min(1.0, (double) (step - warmup) / Math.max(1, total - warmup));
        return switch (kind) {
            case LINEAR -> (float) (1 - progress);
            case POLYNOMIAL -> (float) Math.pow(1 - progress, 2);
            case CONSTANT -> 1f;
        };
    }
}
