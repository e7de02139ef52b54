/**
 * Retrieval recall@k and answer evaluation (EM, F1) on retrieved or gold passages.
 *
 * <p>Layer 13 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.eval;
