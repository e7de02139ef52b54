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
    NDArray decode(NDArray decoderInputIds, NDArray encoderHidden, NDArray encoderMask, boolean training);

    /** Begins incremental decoding over an encoder output; cross-attention keys/values are computed once. */
    DecoderState startDecoding(NDArray encoderHidden, NDArray encoderMask);

    /**
     * Feeds one token per row ({@code tokens} [B]) and returns the next-token logits [B, V]; the state's
     * self-attention key/value cache grows by one position. Same values as {@link #decode} on the prefix.
     */
    NDArray step(DecoderState state, NDArray tokens);

    /** Saves config, weights and tokenizer in the HF layout of this architecture. */
    void save(Path dir) throws IOException;

    @Override
    void close();

    /** Incremental decoding state (KV cache). Rows can be gathered to follow beam search. */
    interface DecoderState {
        /** A state whose row i is this state's row {@code rows[i]} (int64 indices). */
        DecoderState reorder(NDArray rows);

        /** Positions decoded so far. */
        long length();
    }
}
