/**
 * Question-answering data: SQuAD-format files (title-less articles included) and split files with their derived parts.
 *
 * <p>Layer 7 of 19: may use util, weights, engine, model, model.generate, convert; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.qa;
