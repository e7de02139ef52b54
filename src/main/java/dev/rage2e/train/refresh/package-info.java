/**
 * End-to-end RAG's knowledge-base refresh: snapshot the context encoder,
 * re-encode, re-index and publish while training continues.
 *
 * <p>Layer 15 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.train.refresh;
