package dev.rage2e.model;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/** Loads a generator directory in HF layout, choosing the architecture from config.json's {@code model_type}. */
public final class Seq2SeqModels {
    /** The files HF tokenizers may need; copied along when a model is saved. */
    static final List<String> TOKENIZER_FILES = List.of(
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "vocab.txt",
            "vocab.json",
            "merges.txt");

    private Seq2SeqModels() {}

    public static Seq2SeqModel load(Path dir, NDManager manager) {
        if (!Files.isDirectory(dir)) throw new UserException(dir + ": model directory not found");
        Path cfg = dir.resolve("config.json");
        if (!Files.exists(cfg)) throw new UserException(dir + ": missing config.json");
        JsonNode n = Json.read(cfg);
        String type = n.path("model_type").asText("");
        Seq2SeqModel base = switch (type) {
            case "bart" -> BartForConditionalGeneration.load(dir, manager);
            case "encoder-decoder" -> EncoderDecoderModel.load(dir, manager);
            case "" -> throw new UserException(cfg + ": no model_type; expected 'bart' or 'encoder-decoder'");
            case "bert" ->
                throw new UserException(cfg + ": model_type 'bert' is an encoder, not a generator; make "
                        + "one with "
                        + "'rag models init-generator --from " + dir + " --out models/NAME'");
            default ->
                throw new UserException(cfg + ": model_type '" + type
                        + "' is not a supported generator (supported: 'bart', 'encoder-decoder' with BERT encoder and "
                        + "decoder)");
        };
        if (!PointerGenerator.requested(n)) return base;
        try {
            return new PointerGenerator(base);
        } catch (RuntimeException e) {
            base.close();
            throw e;
        }
    }

    /** How many tokens the encoder accepts (its position table). */
    public static int maxEncoderPositions(Seq2SeqModel m) {
        if (m instanceof PointerGenerator p) return maxEncoderPositions(p.base());
        if (m instanceof BartForConditionalGeneration b) return b.config.maxPositionEmbeddings();
        if (m instanceof EncoderDecoderModel e) return e.config.encoder().maxPositionEmbeddings();
        return Integer.MAX_VALUE;
    }

    /** How long an output (decoder start token included) may be. */
    public static int maxDecoderPositions(Seq2SeqModel m) {
        if (m instanceof PointerGenerator p) return maxDecoderPositions(p.base());
        if (m instanceof BartForConditionalGeneration b) return b.config.maxPositionEmbeddings();
        if (m instanceof EncoderDecoderModel e) return e.config.decoder().maxPositionEmbeddings();
        return Integer.MAX_VALUE;
    }

    static Path weightsFile(Path dir) {
        Path w = dir.resolve("model.safetensors");
        if (Files.exists(w)) return w;
        if (Files.exists(dir.resolve("pytorch_model.bin"))) {
            throw new UserException(dir + ": pytorch_model.bin (pickle) is not supported; convert it to "
                    + "model.safetensors "
                    + "(in Python: model.save_pretrained(dir, safe_serialization=True))");
        }
        throw new UserException(dir + ": missing model.safetensors");
    }

    /** The directory's tokenizer.json, or null when it has none. */
    static TextTokenizer tokenizer(Path dir, long padId) {
        Path tok = dir.resolve("tokenizer.json");
        return Files.exists(tok) ? TextTokenizer.load(tok, padId) : null;
    }

    static void copyTokenizerFiles(Path from, Path to) throws IOException {
        for (String f : TOKENIZER_FILES) {
            Path src = from.resolve(f);
            if (Files.exists(src)) Files.copy(src, to.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
