/**
 * Vector indexes (exact flat, Lucene HNSW), the published {embeddings, index} pair, building, and the KB retriever.
 *
 * <p>Layer 12 of 19: may use util, weights, engine, model, model.generate, convert, qa, kb, text, reader, rag; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.index;
