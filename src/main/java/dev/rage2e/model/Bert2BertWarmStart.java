package dev.rage2e.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Builds a BERT2BERT generator from a pretrained BERT (Rothe et al. 2020, "Leveraging Pre-trained
 * Checkpoints for Sequence Generation Tasks"), in HF {@code EncoderDecoderModel} layout:
 * <ul>
 *   <li>encoder = the BERT (embeddings, all layers, pooler if present) copied;
 *   <li>decoder = its own copy of the embeddings and N of the BERT layers, made causal, each with a new
 *       cross-attention block initialised as HF's {@code _init_weights} does (weights N(0, initializer_range),
 *       biases 0, LayerNorm 1/0);
 *   <li>LM head = BERT's masked-LM head ({@code cls.predictions.*}) when the checkpoint has it, else the
 *       same random init (bias 0); its output projection is tied to the decoder's word embeddings.
 * </ul>
 * With N smaller than the BERT's depth, the decoder takes N evenly spaced layers including the first and
 * the last ({@code round(i * (L - 1) / (N - 1))}): the bottom layer reads the embeddings it was trained on
 * and the top layer produces the representations the MLM head was trained on; the layers between keep
 * the network's progression of depth. (Encoder and decoder do not share weights: tie_encoder_decoder=false.)
 */
public final class Bert2BertWarmStart {
    private Bert2BertWarmStart() {}

    /** What was built, for the command's JSON report. */
    public record Summary(
            int encoderLayers,
            int[] decoderLayersFrom,
            boolean lmHeadFromCheckpoint,
            long decoderStartTokenId,
            long eosTokenId,
            long padTokenId,
            boolean tokenizer,
            long parameters) {}

    public static Summary initGenerator(Path bertDir, Path outDir, Integer decoderLayers, long seed)
            throws IOException {
        return initGenerator(bertDir, outDir, decoderLayers, seed, false);
    }

    /** As above; {@code copy} adds a {@link PointerGenerator} copy head (randomly initialised with {@code seed}). */
    public static Summary initGenerator(Path bertDir, Path outDir, Integer decoderLayers, long seed, boolean copy)
            throws IOException {
        if (!Files.isDirectory(bertDir)) throw new UserException(bertDir + ": model directory not found");
        Path cfgFile = bertDir.resolve("config.json");
        if (!Files.exists(cfgFile)) throw new UserException(bertDir + ": missing config.json");
        JsonNode cfgJson = Json.read(cfgFile);
        String type = cfgJson.path("model_type").asText("bert");
        if (!type.equals("bert"))
            throw new UserException(cfgFile + ": model_type '" + type + "', expected a BERT checkpoint ('bert')");
        BertConfig bert = BertConfig.load(cfgFile);
        if (bert.isDecoder())
            throw new UserException(cfgFile + ": is_decoder=true; expected a BERT encoder checkpoint");
        float initRange = (float) BertConfig.numField(cfgJson, "initializer_range", 0.02);
        int total = bert.numHiddenLayers();
        int n = decoderLayers == null ? total : decoderLayers;
        if (n < 1 || n > total)
            throw new UserException("--decoder-layers must be between 1 and " + total + ", got " + n);
        int[] from = layerChoice(total, n);

        Map<String, HostTensor> src = Safetensors.read(Seq2SeqModels.weightsFile(bertDir));
        Map<String, HostTensor> out = build(bert, src, bertDir, from, initRange, seed);
        if (copy)
            out.putAll(PointerGenerator.initialTensors(bert.hiddenSize(), bert.hiddenSize(), initRange, seed + 1));
        boolean fromCheckpoint = src.containsKey("cls.predictions.transform.dense.weight");
        Path tokenizer = bertDir.resolve("tokenizer.json");
        boolean hasTokenizer = Files.exists(tokenizer);
        long start = hasTokenizer ? tokenId(tokenizer, "[CLS]", "<s>") : 101;
        long eos = hasTokenizer ? tokenId(tokenizer, "[SEP]", "</s>") : 102;
        long pad = hasTokenizer ? tokenId(tokenizer, "[PAD]", "<pad>") : bert.padTokenId();
        for (long id : new long[] {start, eos, pad}) {
            if (id < 0 || id >= bert.vocabSize()) {
                throw new UserException(
                        bertDir + ": special token id " + id + " outside the vocabulary of " + bert.vocabSize());
            }
        }
        BertConfig encCfg = bert;
        BertConfig decCfg = bert.withLayers(n).asDecoder();
        EncoderDecoderConfig config = EncoderDecoderConfig.create(encCfg, decCfg, start, eos, pad);
        GenerationConfig gen = new GenerationConfig(
                20, 0, 1, 1.0, GenerationConfig.EarlyStopping.FALSE, 0, -1, -1, eos, pad, start, true);
        long params = 0;
        for (HostTensor t : out.values()) params += t.numel();
        ModelDir.write(outDir, d -> {
            Safetensors.write(d.resolve("model.safetensors"), out, Map.of("format", "pt"));
            com.fasterxml.jackson.databind.node.ObjectNode json = config.json().deepCopy();
            if (copy) PointerGenerator.mark(json);
            Json.writeFile(d.resolve("config.json"), json);
            Json.writeFile(d.resolve(GenerationConfig.FILE), gen.toJson());
            Seq2SeqModels.copyTokenizerFiles(bertDir, d);
        });
        return new Summary(total, from, fromCheckpoint, start, eos, pad, hasTokenizer, params);
    }

    /**
     * The generator's tensors (HF EncoderDecoderModel names) from a BERT's tensors {@code src}: decoder
     * layer j copies BERT layer {@code from[j]}; cross-attention (and the LM head when {@code src} has no
     * {@code cls.predictions.*}) are initialised with {@code seed}. {@code origin} names the source in errors.
     */
    public static Map<String, HostTensor> build(
            BertConfig bert, Map<String, HostTensor> src, Object origin, int[] from, float initRange, long seed) {
        String prefix = bodyPrefix(src, origin);
        int n = from.length;
        Map<String, HostTensor> out = new LinkedHashMap<>();
        int h = bert.hiddenSize();
        // encoder: the whole BERT body
        for (Map.Entry<String, HostTensor> e : src.entrySet()) {
            String k = e.getKey();
            if (!k.startsWith(prefix)) continue;
            String rest = k.substring(prefix.length());
            if (rest.startsWith("embeddings.") || rest.startsWith("encoder.layer.") || rest.startsWith("pooler.")) {
                if (rest.startsWith("embeddings.position_ids")) continue; // a buffer some exports keep
                out.put("encoder." + rest, e.getValue().asF32());
            }
        }
        // decoder body: embeddings and the chosen layers
        for (Map.Entry<String, HostTensor> e : src.entrySet()) {
            String k = e.getKey();
            if (k.startsWith(prefix + "embeddings.") && !k.endsWith("position_ids")) {
                out.put(
                        "decoder.bert." + k.substring(prefix.length()),
                        e.getValue().asF32());
            }
        }
        Random rnd = new Random(seed);
        for (int j = 0; j < n; j++) {
            String s = prefix + "encoder.layer." + from[j] + ".";
            String d = "decoder.bert.encoder.layer." + j + ".";
            int copied = 0;
            for (Map.Entry<String, HostTensor> e : src.entrySet()) {
                if (e.getKey().startsWith(s)) {
                    out.put(d + e.getKey().substring(s.length()), e.getValue().asF32());
                    copied++;
                }
            }
            if (copied == 0)
                throw new UserException(origin + ": missing tensors of layer " + from[j] + " ('" + s + "*')");
            String c = d + "crossattention.";
            for (String proj : new String[] {"self.query", "self.key", "self.value", "output.dense"}) {
                out.put(c + proj + ".weight", normal(rnd, initRange, h, h));
                out.put(c + proj + ".bias", constant(0f, h));
            }
            out.put(c + "output.LayerNorm.weight", constant(1f, h));
            out.put(c + "output.LayerNorm.bias", constant(0f, h));
        }
        // LM head
        String head = "decoder.cls.predictions.";
        if (src.containsKey("cls.predictions.transform.dense.weight")) {
            for (String t : new String[] {
                "transform.dense.weight",
                "transform.dense.bias",
                "transform.LayerNorm.weight",
                "transform.LayerNorm.bias",
                "bias"
            }) {
                HostTensor v = src.get("cls.predictions." + t);
                if (v == null)
                    throw new UserException(
                            origin + ": has cls.predictions.transform.dense.weight but no cls.predictions." + t);
                out.put(head + t, v.asF32());
            }
        } else {
            out.put(head + "transform.dense.weight", normal(rnd, initRange, h, h));
            out.put(head + "transform.dense.bias", constant(0f, h));
            out.put(head + "transform.LayerNorm.weight", constant(1f, h));
            out.put(head + "transform.LayerNorm.bias", constant(0f, h));
            out.put(head + "bias", constant(0f, bert.vocabSize()));
        }
        return out;
    }

    /**
     * A randomly initialised BERT (bare BertModel names, no pooler) as HF's {@code _init_weights}: matrices and
     * embeddings N(0, std), biases 0, LayerNorm 1/0. For benchmarks and tests where no pretrained BERT exists.
     */
    public static Map<String, HostTensor> randomBert(BertConfig c, float std, long seed) {
        Random r = new Random(seed);
        int h = c.hiddenSize(), inter = c.intermediateSize();
        Map<String, HostTensor> t = new LinkedHashMap<>();
        t.put("embeddings.word_embeddings.weight", normal(r, std, c.vocabSize(), h));
        t.put("embeddings.position_embeddings.weight", normal(r, std, c.maxPositionEmbeddings(), h));
        if (c.typeVocabSize() > 0)
            t.put("embeddings.token_type_embeddings.weight", normal(r, std, c.typeVocabSize(), h));
        t.put("embeddings.LayerNorm.weight", constant(1f, h));
        t.put("embeddings.LayerNorm.bias", constant(0f, h));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "encoder.layer." + i + ".";
            for (String n : new String[] {
                "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"
            }) {
                t.put(p + n + ".weight", normal(r, std, h, h));
                t.put(p + n + ".bias", constant(0f, h));
            }
            t.put(p + "attention.output.LayerNorm.weight", constant(1f, h));
            t.put(p + "attention.output.LayerNorm.bias", constant(0f, h));
            t.put(p + "intermediate.dense.weight", normal(r, std, inter, h));
            t.put(p + "intermediate.dense.bias", constant(0f, inter));
            t.put(p + "output.dense.weight", normal(r, std, h, inter));
            t.put(p + "output.dense.bias", constant(0f, h));
            t.put(p + "output.LayerNorm.weight", constant(1f, h));
            t.put(p + "output.LayerNorm.bias", constant(0f, h));
        }
        return t;
    }

    /** N of L layers, evenly spaced, first and last included (N = 1: the first). */
    static int[] layerChoice(int total, int n) {
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = n == 1 ? 0 : (int) Math.round((double) i * (total - 1) / (n - 1));
        return idx;
    }

    /** The name prefix of the BERT body ("" for BertModel, "bert." for BertForPreTraining/MaskedLM, ...). */
    static String bodyPrefix(Map<String, HostTensor> src, Object dir) {
        String suffix = "embeddings.word_embeddings.weight";
        List<String> found = new ArrayList<>();
        for (String k : src.keySet()) if (k.endsWith(suffix)) found.add(k.substring(0, k.length() - suffix.length()));
        if (found.isEmpty())
            throw new UserException(dir + ": no tensor '*embeddings.word_embeddings.weight' (not a BERT checkpoint)");
        found.sort((a, b) -> Integer.compare(a.length(), b.length()));
        return found.get(0);
    }

    /** The id of the first of {@code names} that the tokenizer knows (added tokens, then the vocabulary). */
    static long tokenId(Path tokenizerJson, String... names) {
        JsonNode t = Json.read(tokenizerJson);
        for (String name : names) {
            for (JsonNode a : t.path("added_tokens")) {
                if (name.equals(a.path("content").asText())) return a.path("id").asLong();
            }
            JsonNode v = t.path("model").path("vocab");
            if (v.isObject() && v.has(name)) return v.get(name).asLong();
        }
        throw new UserException(tokenizerJson + ": none of the special tokens " + Arrays.toString(names) + " is in "
                + "the vocabulary");
    }

    private static HostTensor normal(Random rnd, float std, long... shape) {
        float[] v = new float[Math.toIntExact(HostTensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * std);
        return HostTensor.ofFloats(v, shape);
    }

    private static HostTensor constant(float c, long... shape) {
        float[] v = new float[Math.toIntExact(HostTensor.numel(shape))];
        Arrays.fill(v, c);
        return HostTensor.ofFloats(v, shape);
    }
}
