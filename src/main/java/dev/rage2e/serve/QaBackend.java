package dev.rage2e.serve;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

/** What the HTTP layer serves: answers (or passages only), health, and hot reload of model/index. */
public interface QaBackend extends AutoCloseable {
    /** Answer JSON: answer (when generating), passages with scores/posteriors, embeddings version, timings. */
    ObjectNode answer(String question, int k);

    ObjectNode health();

    /** Loads the newest checkpoint / embeddings version and swaps it in atomically; returns what is now served. */
    ObjectNode reload() throws IOException;

    /** Largest k a request may ask for. */
    int maxK();

    @Override
    void close();
}
