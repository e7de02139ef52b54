/**
 * Checkpoints into Hugging Face layout: the ONNX and TensorFlow importers, the
 * BERT name layout, the Maven model catalogue, model folders.
 *
 * <p>Layer 6 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.convert;
