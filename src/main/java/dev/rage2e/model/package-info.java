/**
 * Tensor modules named like Hugging Face's: BERT, BART, BERT2BERT, the span
 * reader's BertForQuestionAnswering, the copy head, dropout.
 *
 * <p>Layer 4 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.model;
