/**
 * Retrieval-augmented generation itself: the retriever interface, the model (doc scores, generator or span reader), the RAG-token and RAG-sequence losses, decoding.
 *
 * <p>Layer 11 of 19: may use util, weights, engine, model, model.generate, convert, qa, kb, text, reader; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.rag;
