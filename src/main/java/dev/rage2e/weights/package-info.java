/**
 * Tensor file formats: safetensors (read, validate, write), host tensors, half floats, the ONNX graph and TensorFlow bundle readers.
 *
 * <p>Layer 2 of 19: may use util; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.weights;
