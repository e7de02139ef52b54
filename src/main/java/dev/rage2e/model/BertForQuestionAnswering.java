package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * An extractive reader as HF's {@code BertForQuestionAnswering}: a BERT body without pooler ({@code bert.*})
 * and {@code qa_outputs}, a linear map of every token's last hidden state to a start and an end logit.
 * Saved in that layout (architectures {@code BertForQuestionAnswering}), so the checkpoint loads in
 * transformers unchanged; the reader settings this project adds live in {@code config.json} under
 * {@value #SETTINGS_KEY} (HF ignores unknown keys).
 */
public final class BertForQuestionAnswering implements AutoCloseable {
    public static final String ARCHITECTURE = "BertForQuestionAnswering";
    public static final String SETTINGS_KEY = "rag_e2e_span_reader";

    /** Longest answer span in tokens and the question's token budget inside the reader input. */
    public record Settings(int maxAnswerTokens, int maxQuestionTokens) {
        public static final Settings DEFAULT = new Settings(30, 64);

        static Settings fromJson(JsonNode n) {
            if (n == null || n.isMissingNode()) return DEFAULT;
            return new Settings(
                    n.path("max_answer_tokens").asInt(DEFAULT.maxAnswerTokens),
                    n.path("max_question_tokens").asInt(DEFAULT.maxQuestionTokens));
        }

        ObjectNode toJson() {
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("max_answer_tokens", maxAnswerTokens);
            o.put("max_question_tokens", maxQuestionTokens);
            return o;
        }
    }

    public final BertConfig config;
    public final Settings settings;
    public final BertModel bert;
    public final Linear qaOutputs;
    private final ParamStore params;
    private final TextTokenizer tokenizer;
    private final Path dir;

    private BertForQuestionAnswering(
            Path dir, BertConfig config, Settings settings, ParamStore params, TextTokenizer tokenizer) {
        this.dir = dir;
        this.config = config;
        this.settings = settings;
        this.params = params;
        this.tokenizer = tokenizer;
        this.bert = new BertModel(params, "bert.", config, false);
        this.qaOutputs = new Linear(params, "qa_outputs", config.hiddenSize(), 2, true);
    }

    /** Whether {@code dir/config.json} describes this architecture. */
    public static boolean isSpanReader(Path dir) {
        Path cfg = dir.resolve("config.json");
        if (!Files.exists(cfg)) return false;
        for (JsonNode a : Json.read(cfg).path("architectures")) if (ARCHITECTURE.equals(a.asText())) return true;
        return false;
    }

    public static BertForQuestionAnswering load(Path dir, NDManager manager) {
        Path weights = Seq2SeqModels.weightsFile(dir);
        JsonNode json = Json.read(dir.resolve("config.json"));
        BertConfig config = BertConfig.fromJson(json);
        Path tok = dir.resolve("tokenizer.json");
        if (!Files.exists(tok))
            throw new UserException(
                    dir + ": a span reader needs tokenizer.json (its answers are cut from the text by offsets)");
        ParamStore params = ParamStore.load(manager, weights);
        try {
            return new BertForQuestionAnswering(
                    dir,
                    config,
                    Settings.fromJson(json.get(SETTINGS_KEY)),
                    params,
                    TextTokenizer.load(tok, config.padTokenId()));
        } catch (RuntimeException e) {
            params.close();
            throw e;
        }
    }

    /**
     * Writes a reader warm-started from the BERT encoder in {@code encoderDir} (any prefix our encoders use; the
     * pooler is dropped as HF's BertForQuestionAnswering has none) with {@code qa_outputs} initialised as HF's
     * {@code _init_weights}: normal(0, initializer_range 0.02), bias 0. Returns the parameter count.
     */
    public static long initFrom(Path encoderDir, Path outDir, long seed, Settings settings) throws IOException {
        BertConfig bert = BertConfig.load(encoderDir.resolve("config.json"));
        Map<String, HostTensor> src = Safetensors.read(Seq2SeqModels.weightsFile(encoderDir));
        String prefix = Bert2BertWarmStart.bodyPrefix(src, encoderDir);
        if (!Files.exists(encoderDir.resolve("tokenizer.json")))
            throw new UserException(encoderDir + ": no tokenizer.json");
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, HostTensor> e : src.entrySet()) {
            String k = e.getKey();
            if (!k.startsWith(prefix)) continue;
            String rest = k.substring(prefix.length());
            if ((rest.startsWith("embeddings.") && !rest.endsWith("position_ids"))
                    || rest.startsWith("encoder.layer.")) {
                out.put("bert." + rest, e.getValue().asF32());
            }
        }
        int h = bert.hiddenSize();
        Random rnd = new Random(seed);
        float[] w = new float[2 * h];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rnd.nextGaussian() * 0.02);
        out.put("qa_outputs.weight", HostTensor.ofFloats(w, 2, h));
        out.put("qa_outputs.bias", HostTensor.ofFloats(new float[2], 2));
        long n = 0;
        for (HostTensor t : out.values()) n += t.numel();
        ModelDir.write(outDir, d -> {
            Safetensors.write(d.resolve("model.safetensors"), out, Map.of("format", "pt"));
            Json.writeFile(d.resolve("config.json"), configJson(bert, settings));
            Seq2SeqModels.copyTokenizerFiles(encoderDir, d);
        });
        return n;
    }

    static ObjectNode configJson(BertConfig config, Settings settings) {
        ObjectNode o = config.toJson();
        o.putArray("architectures").add(ARCHITECTURE);
        o.set(SETTINGS_KEY, settings.toJson());
        return o;
    }

    public record Logits(NDArray start, NDArray end) {}

    /** Start and end logits [N, L] for inputs [N, L] (token types 0 for the question, 1 for the passage). */
    public Logits forward(NDArray ids, NDArray mask, NDArray typeIds, boolean training) {
        NDArray h = bert.forward(ids, mask, typeIds, training).lastHiddenState();
        NDArray logits = qaOutputs.forward(h); // [N, L, 2]
        return new Logits(logits.get(":, :, 0"), logits.get(":, :, 1"));
    }

    public ParamStore params() {
        return params;
    }

    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    public Path dir() {
        return dir;
    }

    public void save(Path out) throws IOException {
        Files.createDirectories(out);
        Safetensors.write(out.resolve("model.safetensors"), params.toHost(), Map.of("format", "pt"));
        Json.writeFile(out.resolve("config.json"), configJson(config, settings));
        if (!dir.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize()))
            Seq2SeqModels.copyTokenizerFiles(dir, out);
    }

    @Override
    public void close() {
        params.close();
        tokenizer.close();
    }
}
