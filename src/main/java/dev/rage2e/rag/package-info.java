/**
 * Retrieval-augmented generation itself: the retriever interface, the model (doc scores,
 * generator or span reader), the RAG-token and RAG-sequence losses, decoding.
 *
 * <p>Layer 11 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.rag;
