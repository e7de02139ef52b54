/**
 * The HTTP API and page: admission control, shared read-only models with atomic reload, the admin token.
 *
 * <p>Layer 18 of 19: may use util, weights, engine, model, model.generate, convert, qa, kb, text, reader, rag, index, eval, train, train.refresh, run, experiment; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.serve;
