/**
 * Tensor modules named like Hugging Face's: BERT, BART, BERT2BERT, the span reader's BertForQuestionAnswering, the copy head, dropout.
 *
 * <p>Layer 4 of 19: may use util, weights, engine; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.model;
