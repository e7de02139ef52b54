package dev.rage2e.train;

/** Linear warmup, then linear / polynomial (power 2) decay to 0 at {@code total}, or constant. */
public record LrSchedule(String kind, int warmup, int total) {
    public float factor(int step) {
        if (warmup > 0 && step < warmup) return (float) (step + 1) / warmup;
        if (kind.equals("constant") || total <= warmup) return 1f;
        double progress = Math.min(1.0, (double) (step - warmup) / Math.max(1, total - warmup));
        return switch (kind) {
            case "linear" -> (float) (1 - progress);
            case "polynomial" -> (float) Math.pow(1 - progress, 2);
            default -> 1f;
        };
    }
}
