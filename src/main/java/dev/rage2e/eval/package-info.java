/**
 * Retrieval recall@k and answer evaluation (EM, F1) on retrieved or gold passages.
 *
 * <p>Layer 13 of 19: may use util, weights, engine, model, model.generate, convert, qa, kb, text, reader, rag, index; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.eval;
