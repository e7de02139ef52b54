package dev.rage2e.model;

import ai.djl.ndarray.NDArray;

/**
 * Arithmetic with a constant on tensors that are part of an autograd graph. DJL's {@code x.mul(2f)}
 * wraps the constant in a temporary tensor over a direct buffer and closes it right after the op;
 * PyTorch's autograd keeps that tensor for the backward pass (mul/div/maximum save their operands),
 * and once the JVM collects the buffer, backward reads freed memory (we saw NaN gradients whenever
 * the garbage collector ran between forward and backward). Here the constant lives in the operand's
 * manager, i.e. until the step that built the graph is closed.
 */
public final class Scalars {
    private Scalars() {}

    public static NDArray mul(NDArray x, float v) {
        return x.mul(constant(x, v));
    }

    public static NDArray div(NDArray x, float v) {
        return x.div(constant(x, v));
    }

    public static NDArray maximum(NDArray x, float v) {
        return x.maximum(constant(x, v));
    }

    private static NDArray constant(NDArray like, float v) {
        return like.getManager().create(v).toType(like.getDataType(), false);
    }
}
