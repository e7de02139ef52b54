/**
 * The extractive span reader: inputs with character offsets, answer spans, the marginal span likelihood, decoding.
 *
 * <p>Layer 10 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.reader;
