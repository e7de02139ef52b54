/**
 * Atomic files, JSON, user errors that name file and line, and {@link
 * dev.rage2e.util.Swappable}, the one reference-counted atomic swap.
 *
 * <p>Layer 1 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.util;
