/**
 * The training loop, its configuration, optimizer, schedule, checkpoints and metrics.
 *
 * <p>Layer 14 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.train;
