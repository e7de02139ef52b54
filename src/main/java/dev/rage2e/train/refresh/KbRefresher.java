package dev.rage2e.train.refresh;

import dev.rage2e.weights.HostTensor;
import java.util.Map;
import java.util.Optional;

/**
 * Keeps the knowledge base's embeddings and index fresh while the context encoder trains
 * (Siriwardhana et al. 2021): snapshot -> encode -> index -> publish. The trainer calls
 * {@link #trySnapshot} every {@code indexing-freq} steps and {@link #publishIfReady} between steps, so
 * the new index is swapped in atomically at a step boundary and training never waits. A distributed
 * encoder can replace the local implementation behind this interface.
 */
public interface KbRefresher extends AutoCloseable {
    /**
     * Starts a refresh with these context-encoder weights (a copy, taken between two optimizer steps).
     * Returns false, and does nothing, when the previous refresh is still running (the new one is skipped).
     */
    boolean trySnapshot(int step, Map<String, HostTensor> contextEncoderWeights);

    /** If a refresh finished building, publishes its version now (atomic swap) and reports it. */
    Optional<Report> publishIfReady(int step);

    boolean running();

    /** Waits for a running refresh to finish (for the end of training and for tests). */
    void awaitIdle() throws InterruptedException;

    @Override
    void close();

    /** What one refresh did, for metrics.jsonl. */
    record Report(String version, int startStep, int publishStep, double encodeSeconds, double indexSeconds, int passages,
            double passagesPerSecond, double probeTopKChange, String error) {}
}
