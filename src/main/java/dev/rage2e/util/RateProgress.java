package dev.rage2e.util;

import java.io.PrintStream;

/**
 * One self-overwriting stderr line for long work: "label done/total (pct) items/s ETA". Redraws at
 * most every {@code intervalMs} so that it costs nothing in tight loops; {@link #finish} prints the
 * final line with a newline.
 */
public final class RateProgress {
    private final String label;
    private final String unit;
    private final long total;
    private final PrintStream out;
    private final long startNanos = System.nanoTime();
    private final long intervalMs;
    private long lastDraw;

    public RateProgress(String label, String unit, long total, PrintStream out) {
        this(label, unit, total, out, 1000);
    }

    public RateProgress(String label, String unit, long total, PrintStream out, long intervalMs) {
        this.label = label;
        this.unit = unit;
        this.total = total;
        this.out = out;
        this.intervalMs = intervalMs;
    }

    public synchronized void update(long done) {
        long now = System.nanoTime();
        if (out == null || (now - lastDraw) / 1_000_000 < intervalMs) return;
        lastDraw = now;
        out.print("\r" + line(done) + "   ");
        out.flush();
    }

    public synchronized void finish(long done) {
        if (out == null) return;
        out.print("\r" + line(done) + "   \n");
        out.flush();
    }

    public double seconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    public String line(long done) {
        double s = Math.max(1e-9, seconds());
        double rate = done / s;
        String eta = rate > 0 && done < total ? formatSeconds((total - done) / rate) : "0s";
        return String.format(
                "%s %d/%d (%.1f%%) %.1f %s/s elapsed %s ETA %s",
                label, done, total, total == 0 ? 100.0 : 100.0 * done / total, rate, unit, formatSeconds(s), eta);
    }

    static String formatSeconds(double s) {
        long t = Math.round(s);
        if (t < 60) return t + "s";
        if (t < 3600) return (t / 60) + "m" + String.format("%02d", t % 60) + "s";
        return (t / 3600) + "h" + String.format("%02d", (t % 3600) / 60) + "m";
    }
}
