package dev.rage2e.train.refresh;

import java.util.Optional;

/**
 * Keeps the knowledge base's embeddings and index fresh while the context encoder trains
 * (Siriwardhana et al. 2021): snapshot -> encode -> index -> publish. The trainer calls
 * {@link #trySnapshot} every {@code indexing-freq} steps and {@link #publishIfReady} between steps, so
 * the new index is swapped in atomically at a step boundary. A refresh counts as running from its
 * snapshot until the trainer has published (or been told about the failure of) its result, and only
 * the training thread changes that state: with a fixed publish step the sequence of refreshes is a
 * function of the step numbers alone. A distributed encoder can replace the local implementation.
 */
public interface KbRefresher extends AutoCloseable {
    /**
     * Starts a refresh with these context-encoder weights (a copy taken between two optimizer steps; the
     * refresher owns it from now on). Returns false, and does nothing, when the previous refresh is still
     * running (the new one is skipped, and {@code weights} closed).
     */
    boolean trySnapshot(int step, WeightsSnapshot weights);

    /**
     * As {@link #trySnapshot}, for a refresh that runs while nothing trains (the end-of-training refresh): the
     * refresher may use the whole machine for it rather than its share beside training.
     */
    default boolean trySnapshotAlone(int step, WeightsSnapshot weights) {
        return trySnapshot(step, weights);
    }

    /** If a refresh finished building, publishes its version now (a reference swap) and reports it. */
    Optional<Report> publishIfReady(int step);

    /** Whether a refresh was started and its result not yet published or reported. */
    boolean running();

    /** Blocks until the running refresh has finished building or failed (returns at once when none runs). */
    void awaitReady() throws InterruptedException;

    /** Same as {@link #awaitReady()} (older name). */
    default void awaitIdle() throws InterruptedException {
        awaitReady();
    }

    /** The running refresh's start step and weights, for a checkpoint written while it runs. */
    Optional<InFlight> inFlight();

    /** Waits for the running refresh and drops its result unpublished (a newer one supersedes it). */
    void cancel() throws InterruptedException;

    @Override
    void close();

    record InFlight(int startStep, WeightsSnapshot weights) {}

    /** What one refresh did, for metrics.jsonl. */
    record Report(
            String version,
            int startStep,
            int publishStep,
            double encodeSeconds,
            double indexSeconds,
            int passages,
            double passagesPerSecond,
            double probeTopKChange,
            String error,
            double swapSeconds) {}
}
