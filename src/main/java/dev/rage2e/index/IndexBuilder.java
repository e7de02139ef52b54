package dev.rage2e.index;

import dev.rage2e.model.EncoderModel;
import java.io.IOException;

/**
 * The storage side of a refresh, implemented over the KB package: encode every passage with a given
 * encoder into a new (unpublished) embeddings version with its index, opened for reading on the
 * calling (refresher) thread, then publish that version.
 */
public interface IndexBuilder {
    /** Encodes the whole KB, builds its index and opens it; the new version is not yet published. */
    Built build(EncoderModel encoder, String label) throws IOException;

    /** Makes a built version the current one for readers and for the next training step (a reference swap). */
    void publish(Built built) throws IOException;

    /** Removes a built but never published version (after a failure or when superseded). */
    void discard(Built built) throws IOException;

    /** Top-k ids of {@code version} for probe queries (to measure how much retrieval changed). */
    int[][] search(String version, float[][] queries, int k) throws IOException;

    /** The version readers currently see. */
    String current();

    /** A built version; {@code opened} is its {embeddings, index} pair, loaded and ready to swap in. */
    record Built(
            String version, int passages, double encodeSeconds, double indexSeconds, IndexHolder.Snapshot opened) {}
}
