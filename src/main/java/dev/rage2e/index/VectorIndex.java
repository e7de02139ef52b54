package dev.rage2e.index;

/**
 * Maximum-inner-product search over the rows of one embeddings version. Implementations are
 * immutable after construction and safe for concurrent searches.
 */
public interface VectorIndex extends AutoCloseable {
    /** "flat" or "hnsw". */
    String type();

    int dim();

    int size();

    /** For each query row: the {@code k} (or fewer, if the index is smaller) rows of largest inner product. */
    TopK search(float[][] queries, int k);

    @Override
    void close();
}
