package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A RAG generator: an encoder-decoder (BART, or BERT2BERT warm-started from BERT) seen through what
 * RAG needs from it. Implementations mirror HF's {@code BartForConditionalGeneration} and
 * {@code EncoderDecoderModel}; {@code Seq2SeqModels.load} picks one from {@code config.json}.
 *
 * <p>Label convention (as HF RAG fine-tuning): targets are tokenised with special tokens
 * ({@code <s> answer </s>} for BART, {@code [CLS] answer [SEP]} for BERT2BERT); RAG feeds them unshifted
 * as decoder inputs and predicts the sequence shifted left by one. Generation starts from
 * {@link #decoderStartTokenId()} and stops at {@link #eosTokenId()}.
 */
public interface Seq2SeqModel extends AutoCloseable {
    int vocabSize();

    long padTokenId();

    long bosTokenId();

    long eosTokenId();

    long decoderStartTokenId();

    /** The model's tokenizer (throws a clear error when the directory has none). */
    TextTokenizer tokenizer();

    /** Every trainable parameter by its HF name. */
    ParamStore params();

    /** Encoder output [B, S, H] for input ids [B, S] and padding mask [B, S]. */
    NDArray encode(NDArray inputIds, NDArray attentionMask, boolean training);

    /** Teacher-forced decoder logits [B, T, V] for decoder input ids [B, T] (causal, no decoder padding mask). */
    default NDArray decode(NDArray decoderInputIds, NDArray encoderHidden, NDArray encoderMask, boolean training) {
        return decode(decoderInputIds, null, encoderHidden, encoderMask, training);
    }

    /**
     * As above with a decoder padding mask [B, T] (1 keep, 0 pad; null = none) combined with the causal
     * mask, as HF's {@code decoder_attention_mask}.
     */
    NDArray decode(
            NDArray decoderInputIds, NDArray decoderMask, NDArray encoderHidden, NDArray encoderMask, boolean training);

    /** Begins incremental decoding over an encoder output; cross-attention keys/values are computed once. */
    DecoderState startDecoding(NDArray encoderHidden, NDArray encoderMask);

    /**
     * Whether outputs depend on the encoder's input token ids as well as its hidden states (a copy
     * mechanism, {@link PointerGenerator}); such a model must be called through the {@code sourceIds}
     * variants below. Callers that have the ids should always use those variants.
     */
    default boolean needsSourceIds() {
        return false;
    }

    /** {@link #decode(NDArray, NDArray, NDArray, NDArray, boolean)} also given the encoder's input ids [B, S]. */
    default NDArray decode(
            NDArray decoderInputIds,
            NDArray decoderMask,
            NDArray encoderHidden,
            NDArray encoderMask,
            NDArray sourceIds,
            boolean training) {
        return decode(decoderInputIds, decoderMask, encoderHidden, encoderMask, training);
    }

    /** {@link #startDecoding(NDArray, NDArray)} also given the encoder's input ids [B, S]. */
    default DecoderState startDecoding(NDArray encoderHidden, NDArray encoderMask, NDArray sourceIds) {
        return startDecoding(encoderHidden, encoderMask);
    }

    /**
     * Feeds one token per row ({@code tokens} [B]) and returns the next-token logits [B, V]; the state's
     * self-attention key/value cache grows by one position. Same values as {@link #decode} on the prefix.
     */
    NDArray step(DecoderState state, NDArray tokens);

    /** Saves config, weights and tokenizer in the HF layout of this architecture. */
    void save(Path dir) throws IOException;

    /** Decoding defaults as HF's {@code generate()} would take them (generation_config.json, else config.json). */
    default dev.rage2e.model.GenerationConfig generationConfig() {
        return dev.rage2e.model.GenerationConfig.defaults(this);
    }

    @Override
    void close();

    /** Incremental decoding state (KV cache). Rows can be gathered to follow beam search. */
    interface DecoderState extends AutoCloseable {
        /** A state whose row i is this state's row {@code rows[i]} (int64 indices); this state stays valid. */
        DecoderState reorder(NDArray rows);

        /** Positions decoded so far. */
        long length();

        /** Frees the cache now (otherwise the manager of the encoder output that started it does). */
        @Override
        default void close() {}
    }
}
