package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * HF's {@code BartForConditionalGeneration}: {@link BartModel} ({@code model.*}) and an LM head tied to
 * {@code model.shared.weight} (unless {@code tie_word_embeddings} is false) plus the
 * {@code final_logits_bias} buffer [1, V], which is loaded and saved but not trained (as in HF).
 */
public final class BartForConditionalGeneration implements Seq2SeqModel, DecoderHiddenStates {
    /** Name prefixes under which checkpoints keep a BART generator: plain, or inside a RAG checkpoint. */
    private static final List<String> PREFIXES = List.of("", "rag.generator.", "generator.");

    public final BartConfig config;
    public final BartModel model;
    private final NDArray lmHeadWeight;
    private final NDArray finalLogitsBias;
    private final ParamStore params;
    private final TextTokenizer tokenizer; // null when the directory has none
    private final Path dir;
    private final GenerationConfig generationConfig;

    public BartForConditionalGeneration(BartConfig config, ParamStore params, TextTokenizer tokenizer, Path dir) {
        this.config = config;
        this.params = params;
        this.tokenizer = tokenizer;
        this.dir = dir;
        this.model = new BartModel(params, "model.", config);
        this.lmHeadWeight = config.tieWordEmbeddings()
                ? model.shared.weight
                : params.get("lm_head.weight", config.vocabSize(), config.dModel());
        this.finalLogitsBias = params.has("final_logits_bias")
                ? params.buffer("final_logits_bias", 1, config.vocabSize())
                : createZeroBias(params, config.vocabSize());
        GenerationConfig base = GenerationConfig.defaults(this);
        this.generationConfig = dir == null ? base : GenerationConfig.load(dir, base);
    }

    private static NDArray createZeroBias(ParamStore p, int vocab) {
        p.create("final_logits_bias", p.manager().zeros(new ai.djl.ndarray.types.Shape(1, vocab)));
        return p.buffer("final_logits_bias", 1, vocab);
    }

    public static BartForConditionalGeneration load(Path dir, NDManager manager) {
        BartConfig config = BartConfig.load(dir.resolve("config.json"));
        Path weights = Seq2SeqModels.weightsFile(dir);
        Map<String, HostTensor> raw = Safetensors.read(weights);
        String prefix = PREFIXES.stream()
                .filter(p -> raw.containsKey(p + "model.shared.weight")
                        || raw.containsKey(p + "model.encoder.embed_tokens.weight"))
                .findFirst()
                .orElseThrow(() -> new UserException(weights + ": missing tensor 'model.shared.weight' (no BART "
                        + "body under any known prefix "
                        + PREFIXES + ")"));
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        raw.forEach((k, v) -> {
            if (k.startsWith(prefix)) tensors.put(k.substring(prefix.length()), v);
        });
        // some exports keep only the per-side copies of the tied embedding table
        if (!tensors.containsKey("model.shared.weight"))
            tensors.put("model.shared.weight", tensors.get("model.encoder.embed_tokens.weight"));
        ParamStore params = ParamStore.fromHost(manager, tensors, weights.toString());
        try {
            return new BartForConditionalGeneration(
                    config, params, Seq2SeqModels.tokenizer(dir, config.padTokenId()), dir);
        } catch (RuntimeException e) {
            params.close();
            throw e;
        }
    }

    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    @Override
    public long padTokenId() {
        return config.padTokenId();
    }

    @Override
    public long bosTokenId() {
        return config.bosTokenId();
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
        return model.encoder.forward(inputIds, attentionMask, training);
    }

    @Override
    public NDArray decode(
            NDArray decoderInputIds,
            NDArray decoderMask,
            NDArray encoderHidden,
            NDArray encoderMask,
            boolean training) {
        return lmHead(decodeHidden(decoderInputIds, decoderMask, encoderHidden, encoderMask, training));
    }

    @Override
    public NDArray decodeHidden(
            NDArray decoderInputIds,
            NDArray decoderMask,
            NDArray encoderHidden,
            NDArray encoderMask,
            boolean training) {
        return model.decoder.forward(decoderInputIds, decoderMask, encoderHidden, encoderMask, training);
    }

    @Override
    public NDArray stepHidden(DecoderState state, NDArray tokens) {
        return model.decoder.step(tokens.reshape(-1, 1), (KvCache) state);
    }

    @Override
    public NDArray lmLogits(NDArray hidden) {
        return lmHead(hidden);
    }

    @Override
    public int decoderHiddenSize() {
        return config.dModel();
    }

    @Override
    public int encoderHiddenSize() {
        return config.dModel();
    }

    private NDArray lmHead(NDArray hidden) {
        // [.., V] + [1, V] broadcasts; the receiver is the activation so results stay in the caller's manager
        return ai.djl.nn.core.Linear.linear(hidden, lmHeadWeight, null)
                .singletonOrThrow()
                .add(finalLogitsBias);
    }

    @Override
    public KvCache startDecoding(NDArray encoderHidden, NDArray encoderMask) {
        return KvCache.start(encoderHidden.getManager(), model.decoder.crossKeysValues(encoderHidden), encoderMask);
    }

    @Override
    public NDArray step(DecoderState state, NDArray tokens) {
        return lmHead(stepHidden(state, tokens)).squeeze(1);
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
}
