/**
 * What DJL does not bind (bf16 matmul precision, fused AdamW, through JNA) or binds in scattered
 * places ({@link dev.rage2e.engine.Torch}); CPU flags and the matmul roofline.
 *
 * <p>Layer 3 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.engine;
