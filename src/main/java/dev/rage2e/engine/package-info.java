/**
 * What DJL does not bind (bf16 matmul precision, fused AdamW, through JNA) or binds in scattered places ({@link dev.rage2e.engine.Torch}); CPU flags and the matmul roofline.
 *
 * <p>Layer 3 of 19: may use util, weights; never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.engine;
