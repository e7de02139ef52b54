/**
 * The paper's comparison of original and end-to-end RAG: workspace, reader stage, per-mode runs and the report.
 *
 * <p>Layer 17 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.experiment;
