/**
 * The knowledge base: chunking into passages, the passage store, embeddings versions with a current pointer, encoding.
 *
 * <p>Layer 8 of 19: may use util, weights, engine, model, model.generate, convert, qa; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.kb;
