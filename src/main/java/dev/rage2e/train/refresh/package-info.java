/**
 * End-to-end RAG's knowledge-base refresh: snapshot the context encoder, re-encode, re-index and publish while training continues.
 *
 * <p>Layer 15 of 19: may use util, weights, engine, model, model.generate, convert, qa, kb, text, reader, rag, index, eval, train; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.train.refresh;
