package dev.rage2e.serve;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What the HTTP layer serves: answers (or passages only), health, and hot reload of model/index.
 * Implementations are called from many request threads at once.
 */
public interface QaBackend extends AutoCloseable {
    /**
     * Answer JSON: {@code answer} (when generating), {@code passages} (id, title, text, score and, with a
     * generator, posterior p(z|x)), {@code embeddings_version} and {@code timings} in milliseconds.
     */
    ObjectNode answer(String question, int k);

    ObjectNode health();

    /**
     * Loads a newer checkpoint / embeddings version if there is one and swaps it in atomically (requests
     * in flight finish on the old one); returns what is now served and whether anything changed. Cheap
     * when nothing changed, so a watcher may call it every few seconds.
     */
    ObjectNode reload();

    /** Passages used when a request does not say. */
    int defaultK();

    /** Largest k a request may ask for. */
    int maxK();

    /**
     * Requests one worker runs together (micro-batching): the server lets {@code workers * batchCapacity()}
     * requests into model code at once; 1 for backends that run each request on its own.
     */
    default int batchCapacity() {
        return 1;
    }

    @Override
    void close();
}
