/**
 * The paper's comparison of original and end-to-end RAG: workspace, reader stage, per-mode runs and the report.
 *
 * <p>Layer 17 of 19: may use util, weights, engine, model, model.generate, convert, qa, kb, text, reader, rag, index, eval, train, train.refresh, run; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.experiment;
