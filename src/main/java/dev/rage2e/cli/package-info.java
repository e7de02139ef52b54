/**
 * The {@code ./rag} command line: one picocli command per verb, thin over the packages below.
 *
 * <p>Layer 19 of 19: may use util, weights, engine, model, model.generate, convert, qa, kb, text, reader, rag, index, eval, train, train.refresh, run, experiment, serve; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.cli;
