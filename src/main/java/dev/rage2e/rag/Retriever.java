package dev.rage2e.rag;

/**
 * What RAG needs from the knowledge base: top-k maximum-inner-product search over the currently
 * published embeddings version, the passages themselves, and their stored vectors. Implementations
 * must be safe for concurrent use while a newer version is swapped in; one {@link Snapshot} is pinned
 * per training step so the ids and stored vectors it returns always belong to the same version.
 */
public interface Retriever {
    /** Pins the current version; close it when the step is done so old versions can be reclaimed. */
    Snapshot acquire();

    int dim();

    interface Snapshot extends AutoCloseable {
        /** Embeddings version name, e.g. "emb-00003". */
        String version();

        /** What identifies the vectors' content across KB copies (the data's sha256 for a KB version). */
        default String contentId() {
            return version();
        }

        /** Top-{@code k} passage ids by inner product, best first, for each query row. */
        Hits search(float[][] queries, int k);

        /** The stored (possibly stale) embedding of a passage in this version. */
        float[] embedding(int passageId);

        Passage passage(int passageId);

        @Override
        void close();
    }

    record Passage(int id, String title, String text) {}

    /** ids[b][j] and scores[b][j] for query b's j-th best passage. */
    record Hits(int[][] ids, float[][] scores) {}
}
