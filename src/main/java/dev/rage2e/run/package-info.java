/**
 * A training run: model, retriever, trainer, refresher and evaluation assembled from a configuration, and resumed.
 *
 * <p>Layer 16 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.run;
