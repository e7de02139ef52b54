package dev.rage2e.model;

import ai.djl.ndarray.NDArray;

/**
 * A generator whose decoder output can be read before its LM head, so that further heads (the copy
 * distribution of {@link PointerGenerator}) can be computed from the same hidden states.
 * {@code lmLogits(decodeHidden(...))} equals {@code decode(...)}.
 */
public interface DecoderHiddenStates {
    /** Width of the decoder's last hidden states. */
    int decoderHiddenSize();

    /** Width of the encoder output. */
    int encoderHiddenSize();

    /** Teacher-forced decoder hidden states [B, T, H]. */
    NDArray decodeHidden(
            NDArray decoderInputIds, NDArray decoderMask, NDArray encoderHidden, NDArray encoderMask, boolean training);

    /** One incremental decoding step: hidden states [B, 1, H] for one token per row. */
    NDArray stepHidden(Seq2SeqModel.DecoderState state, NDArray tokens);

    /** The LM head: vocabulary logits [..., V] for hidden states [..., H]. */
    NDArray lmLogits(NDArray hidden);
}
