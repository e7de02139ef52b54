/**
 * Checkpoints into Hugging Face layout: the ONNX and TensorFlow importers, the BERT name layout, the Maven model catalogue, model folders.
 *
 * <p>Layer 6 of 19: may use util, weights, engine, model, model.generate; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.convert;
