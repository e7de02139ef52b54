/**
 * Tensor file formats: safetensors (read, validate, write), host tensors, half
 * floats, the ONNX graph and TensorFlow bundle readers.
 *
 * <p>Layer 2 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.weights;
