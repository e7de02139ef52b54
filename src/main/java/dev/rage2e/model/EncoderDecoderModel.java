package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * BERT2BERT as HF's {@code EncoderDecoderModel}: {@code encoder.*} is a {@link BertModel}, {@code decoder}
 * a {@code BertLMHeadModel} ({@code decoder.bert.*}: causal self-attention + cross-attention,
 * {@code decoder.cls.predictions.*}: the LM head, its projection tied to the decoder's word embeddings).
 * The encoder pooler, when the checkpoint has one, is carried along (HF keeps it) but not trained.
 */
public final class EncoderDecoderModel implements Seq2SeqModel, DecoderHiddenStates {
    public final EncoderDecoderConfig config;
    public final BertModel encoder;
    public final BertModel decoder;
    public final BertLMPredictionHead lmHead;
    private final ParamStore params;
    private final TextTokenizer tokenizer; // null when the directory has none
    private final Path dir;
    private final GenerationConfig generationConfig;

    public EncoderDecoderModel(EncoderDecoderConfig config, ParamStore params, TextTokenizer tokenizer, Path dir) {
        this.config = config;
        this.params = params;
        this.tokenizer = tokenizer;
        this.dir = dir;
        this.encoder = new BertModel(params, "encoder.", config.encoder(), false);
        if (params.has("encoder.pooler.dense.weight")) {
            int h = config.encoder().hiddenSize();
            params.buffer("encoder.pooler.dense.weight", h, h);
            params.buffer("encoder.pooler.dense.bias", h);
        }
        this.decoder = new BertModel(params, "decoder.bert.", config.decoder(), false);
        this.lmHead = new BertLMPredictionHead(
                params,
                "decoder.cls.predictions",
                config.decoder(),
                config.tieDecoderWordEmbeddings() ? decoder.wordEmbeddings() : null);
        GenerationConfig base = GenerationConfig.defaults(this);
        this.generationConfig = dir == null ? base : GenerationConfig.load(dir, base);
    }

    public static EncoderDecoderModel load(Path dir, NDManager manager) {
        EncoderDecoderConfig config = EncoderDecoderConfig.load(dir.resolve("config.json"));
        ParamStore params = ParamStore.load(manager, Seq2SeqModels.weightsFile(dir));
        try {
            return new EncoderDecoderModel(config, params, Seq2SeqModels.tokenizer(dir, config.padTokenId()), dir);
        } catch (RuntimeException e) {
            params.close();
            throw e;
        }
    }

    @Override
    public int vocabSize() {
        return config.decoder().vocabSize();
    }

    @Override
    public long padTokenId() {
        return config.padTokenId();
    }

    @Override
    public long bosTokenId() {
        return config.bosTokenId() >= 0 ? config.bosTokenId() : config.decoderStartTokenId();
    }

    @Override
    public long eosTokenId() {
        return config.eosTokenId();
    }

    @Override
    public long decoderStartTokenId() {
        return config.decoderStartTokenId();
    }

    @Override
    public TextTokenizer tokenizer() {
        if (tokenizer == null)
            throw new UserException((dir == null ? "model" : dir) + ": no tokenizer.json; pass token ids instead");
        return tokenizer;
    }

    @Override
    public ParamStore params() {
        return params;
    }

    @Override
    public GenerationConfig generationConfig() {
        return generationConfig;
    }

    @Override
    public NDArray encode(NDArray inputIds, NDArray attentionMask, boolean training) {
        return encoder.forward(inputIds, attentionMask, null, training).lastHiddenState();
    }

    @Override
    public NDArray decode(
            NDArray decoderInputIds,
            NDArray decoderMask,
            NDArray encoderHidden,
            NDArray encoderMask,
            boolean training) {
        return lmLogits(decodeHidden(decoderInputIds, decoderMask, encoderHidden, encoderMask, training));
    }

    @Override
    public NDArray decodeHidden(
            NDArray decoderInputIds,
            NDArray decoderMask,
            NDArray encoderHidden,
            NDArray encoderMask,
            boolean training) {
        return decoder.forward(decoderInputIds, decoderMask, null, encoderHidden, encoderMask, training)
                .lastHiddenState();
    }

    @Override
    public NDArray stepHidden(DecoderState state, NDArray tokens) {
        return decoder.step(tokens.reshape(-1, 1), (KvCache) state);
    }

    @Override
    public NDArray lmLogits(NDArray hidden) {
        return lmHead.forward(hidden);
    }

    @Override
    public int decoderHiddenSize() {
        return config.decoder().hiddenSize();
    }

    @Override
    public int encoderHiddenSize() {
        return config.encoder().hiddenSize();
    }

    @Override
    public KvCache startDecoding(NDArray encoderHidden, NDArray encoderMask) {
        return KvCache.start(encoderHidden.getManager(), decoder.crossKeysValues(encoderHidden), encoderMask);
    }

    @Override
    public NDArray step(DecoderState state, NDArray tokens) {
        return lmLogits(stepHidden(state, tokens)).squeeze(1);
    }

    @Override
    public void save(Path out) throws IOException {
        ModelDir.write(out, d -> {
            params.save(d.resolve("model.safetensors"), Map.of("format", "pt"));
            Json.writeFile(d.resolve("config.json"), config.json());
            Json.writeFile(d.resolve(GenerationConfig.FILE), generationConfig.toJson());
            if (tokenizer != null)
                Seq2SeqModels.copyTokenizerFiles(tokenizer.file().getParent(), d);
        });
    }

    @Override
    public void close() {
        params.close();
        if (tokenizer != null) tokenizer.close();
    }

    /** The directory this model was loaded from (null when built in memory). */
    public Path dir() {
        return dir;
    }
}
