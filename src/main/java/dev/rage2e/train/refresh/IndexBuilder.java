package dev.rage2e.train.refresh;

import dev.rage2e.model.EncoderModel;
import java.io.IOException;

/**
 * The storage side of a refresh, implemented over the KB package: encode every passage with a given
 * encoder into a new (unpublished) embeddings version with its index, then publish that version.
 */
public interface IndexBuilder {
    /** Encodes the whole KB and builds its index; returns the new version's name (not yet published). */
    Built build(EncoderModel encoder, String label) throws IOException;

    /** Makes {@code version} the current one for readers and for the next training step. */
    void publish(String version) throws IOException;

    /** Removes a built but never published version (after a failure or when superseded). */
    void discard(String version) throws IOException;

    /** Top-k ids of {@code version} for probe queries (to measure how much retrieval changed). */
    int[][] search(String version, float[][] queries, int k) throws IOException;

    /** The version readers currently see. */
    String current();

    record Built(String version, int passages, double encodeSeconds, double indexSeconds) {}
}
