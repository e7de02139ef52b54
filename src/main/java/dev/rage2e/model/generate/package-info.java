/**
 * Greedy and beam search over any {@link dev.rage2e.model.Seq2SeqModel}, with Hugging Face's semantics.
 *
 * <p>Layer 5 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.model.generate;
