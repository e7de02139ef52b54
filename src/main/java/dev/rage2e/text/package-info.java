/**
 * The official SQuAD v1.1 answer normalisation, exact match and F1.
 *
 * <p>Layer 9 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.text;
