/**
 * The extractive span reader: inputs with character offsets, answer spans, the marginal span likelihood, decoding.
 *
 * <p>Layer 10 of 19: may use util, weights, engine, model, model.generate, convert, qa, kb, text; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.reader;
