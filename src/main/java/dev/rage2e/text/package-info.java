/**
 * The official SQuAD v1.1 answer normalisation, exact match and F1.
 *
 * <p>Layer 9 of 19: may use util, weights, engine, model, model.generate, convert, qa, kb; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.text;
