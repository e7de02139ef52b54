/**
 * Vector indexes (exact flat, Lucene HNSW), the published {embeddings, index} pair, building, and the KB retriever.
 *
 * <p>Layer 12 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.index;
