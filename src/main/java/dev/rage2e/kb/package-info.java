/**
 * The knowledge base: chunking into passages, the passage store, embeddings versions with a current pointer, encoding.
 *
 * <p>Layer 8 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.kb;
