/**
 * A training run: model, retriever, trainer, refresher and evaluation assembled from a configuration, and resumed.
 *
 * <p>Layer 16 of 19: may use util, weights, engine, model, model.generate, convert, qa, kb, text, reader, rag, index, eval, train, train.refresh; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.run;
