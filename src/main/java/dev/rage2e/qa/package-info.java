/**
 * Question-answering data: SQuAD-format files (title-less articles included) and split files with their derived parts.
 *
 * <p>Layer 7 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.qa;
