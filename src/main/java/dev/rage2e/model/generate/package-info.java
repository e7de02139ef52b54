/**
 * Greedy and beam search over any {@link dev.rage2e.model.Seq2SeqModel}, with Hugging Face's semantics.
 *
 * <p>Layer 5 of 19: may use util, weights, engine, model; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.model.generate;
