/**
 * The training loop, its configuration, optimizer, schedule, checkpoints and metrics.
 *
 * <p>Layer 14 of 19: may use util, weights, engine, model, model.generate, convert, qa, kb, text, reader, rag, index, eval; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.train;
