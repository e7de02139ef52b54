/**
 * The {@code ./rag} command line: one picocli command per verb, thin over the packages below.
 *
 * <p>Layer 19 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.cli;
