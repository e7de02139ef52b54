package dev.rage2e.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The decoding settings of HF's {@code GenerationConfig} that this implementation honours. Loaded the
 * way HF's {@code generate()} finds them: {@code generation_config.json} when the model directory has
 * one, otherwise the same keys in {@code config.json}; absent keys take HF's defaults (max_length 20,
 * greedy, length_penalty 1, early_stopping false, no forced tokens, no n-gram blocking).
 *
 * @param maxLength total length including the decoder start token
 * @param minLength EOS is blocked while the sequence (start token included) is shorter
 * @param earlyStopping HF's {@code early_stopping}: TRUE stops a row at num_beams finished hypotheses,
 *     FALSE uses the length-normalised bound of the best open beam, NEVER the bound at max_length
 * @param forcedBosTokenId token forced at the first generated position (-1: none)
 * @param forcedEosTokenId token forced at position max_length - 1 (-1: none)
 * @param eosTokenId -1: none (rows only stop at max_length)
 * @param useCache decode with the key/value cache (false recomputes the whole prefix each step: slow,
 *     kept to check the cache)
 */
public record GenerationConfig(
        int maxLength,
        int minLength,
        int numBeams,
        double lengthPenalty,
        EarlyStopping earlyStopping,
        int noRepeatNgramSize,
        long forcedBosTokenId,
        long forcedEosTokenId,
        long eosTokenId,
        long padTokenId,
        long decoderStartTokenId,
        boolean useCache) {

    public enum EarlyStopping {
        TRUE,
        FALSE,
        NEVER
    }

    public static final String FILE = "generation_config.json";

    public GenerationConfig {
        if (maxLength < 1) throw new IllegalArgumentException("max_length must be >= 1, got " + maxLength);
        if (minLength < 0) throw new IllegalArgumentException("min_length must be >= 0, got " + minLength);
        if (numBeams < 1) throw new IllegalArgumentException("num_beams must be >= 1, got " + numBeams);
        if (noRepeatNgramSize < 0)
            throw new IllegalArgumentException("no_repeat_ngram_size must be >= 0, got " + noRepeatNgramSize);
        if (Double.isNaN(lengthPenalty) || Double.isInfinite(lengthPenalty)) {
            throw new IllegalArgumentException("length_penalty must be finite, got " + lengthPenalty);
        }
        if (decoderStartTokenId < 0) throw new IllegalArgumentException("decoder_start_token_id is not set");
    }

    /** HF's defaults with the model's special tokens. */
    public static GenerationConfig defaults(Seq2SeqModel m) {
        return new GenerationConfig(
                20,
                0,
                1,
                1.0,
                EarlyStopping.FALSE,
                0,
                -1,
                -1,
                m.eosTokenId(),
                m.padTokenId(),
                m.decoderStartTokenId(),
                true);
    }

    /**
     * Reads {@code generation_config.json} from {@code dir}, else the generation keys of
     * {@code config.json}; token ids absent from the file come from {@code base}.
     */
    public static GenerationConfig load(Path dir, GenerationConfig base) {
        Path gen = dir.resolve(FILE);
        Path file = Files.exists(gen) ? gen : dir.resolve("config.json");
        if (!Files.exists(file)) return base;
        try {
            return fromJson(Json.read(file), base);
        } catch (IllegalArgumentException e) {
            throw new UserException(file + ": " + e.getMessage());
        }
    }

    public static GenerationConfig fromJson(JsonNode n, GenerationConfig base) {
        return new GenerationConfig(
                intField(n, "max_length", base.maxLength),
                intField(n, "min_length", base.minLength),
                intField(n, "num_beams", base.numBeams),
                n.hasNonNull("length_penalty") ? num(n, "length_penalty") : base.lengthPenalty,
                n.hasNonNull("early_stopping") ? earlyStopping(n.get("early_stopping")) : base.earlyStopping,
                intField(n, "no_repeat_ngram_size", base.noRepeatNgramSize),
                tokenField(n, "forced_bos_token_id", base.forcedBosTokenId),
                tokenField(n, "forced_eos_token_id", base.forcedEosTokenId),
                tokenField(n, "eos_token_id", base.eosTokenId),
                tokenField(n, "pad_token_id", base.padTokenId),
                tokenField(n, "decoder_start_token_id", base.decoderStartTokenId),
                n.hasNonNull("use_cache") ? n.get("use_cache").asBoolean() : base.useCache);
    }

    private static EarlyStopping earlyStopping(JsonNode v) {
        if (v.isBoolean()) return v.asBoolean() ? EarlyStopping.TRUE : EarlyStopping.FALSE;
        if (v.isTextual() && v.asText().equals("never")) return EarlyStopping.NEVER;
        throw new IllegalArgumentException("early_stopping must be true, false or \"never\", got " + v);
    }

    private static int intField(JsonNode n, String f, int dflt) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return dflt;
        if (!v.isIntegralNumber() || !v.canConvertToInt())
            throw new IllegalArgumentException(f + " must be an integer, got " + v);
        return v.asInt();
    }

    private static double num(JsonNode n, String f) {
        JsonNode v = n.get(f);
        if (!v.isNumber()) throw new IllegalArgumentException(f + " must be a number, got " + v);
        return v.asDouble();
    }

    /** A token id; HF also allows a list for eos (several stop tokens): we take the first and say so. */
    private static long tokenField(JsonNode n, String f, long dflt) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return dflt;
        if (v.isArray()) {
            if (v.size() != 1)
                throw new IllegalArgumentException(f + ": several token ids " + v + " are not supported");
            v = v.get(0);
        }
        if (!v.isIntegralNumber() || v.asLong() < 0)
            throw new IllegalArgumentException(f + " must be a token id, got " + v);
        return v.asLong();
    }

    /** HF-style {@code generation_config.json} content (only the keys this class knows). */
    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("decoder_start_token_id", decoderStartTokenId);
        if (eosTokenId >= 0) o.put("eos_token_id", eosTokenId);
        o.put("pad_token_id", padTokenId);
        if (forcedBosTokenId >= 0) o.put("forced_bos_token_id", forcedBosTokenId);
        if (forcedEosTokenId >= 0) o.put("forced_eos_token_id", forcedEosTokenId);
        o.put("max_length", maxLength);
        o.put("min_length", minLength);
        o.put("num_beams", numBeams);
        o.put("length_penalty", lengthPenalty);
        switch (earlyStopping) {
            case TRUE -> o.put("early_stopping", true);
            case FALSE -> o.put("early_stopping", false);
            case NEVER -> o.put("early_stopping", "never");
        }
        o.put("no_repeat_ngram_size", noRepeatNgramSize);
        return o;
    }

    public GenerationConfig withMaxLength(int v) {
        return new GenerationConfig(
                v,
                minLength,
                numBeams,
                lengthPenalty,
                earlyStopping,
                noRepeatNgramSize,
                forcedBosTokenId,
                forcedEosTokenId,
                eosTokenId,
                padTokenId,
                decoderStartTokenId,
                useCache);
    }

    public GenerationConfig withMinLength(int v) {
        return new GenerationConfig(
                maxLength,
                v,
                numBeams,
                lengthPenalty,
                earlyStopping,
                noRepeatNgramSize,
                forcedBosTokenId,
                forcedEosTokenId,
                eosTokenId,
                padTokenId,
                decoderStartTokenId,
                useCache);
    }

    public GenerationConfig withNumBeams(int v) {
        return new GenerationConfig(
                maxLength,
                minLength,
                v,
                lengthPenalty,
                earlyStopping,
                noRepeatNgramSize,
                forcedBosTokenId,
                forcedEosTokenId,
                eosTokenId,
                padTokenId,
                decoderStartTokenId,
                useCache);
    }

    public GenerationConfig withLengthPenalty(double v) {
        return new GenerationConfig(
                maxLength,
                minLength,
                numBeams,
                v,
                earlyStopping,
                noRepeatNgramSize,
                forcedBosTokenId,
                forcedEosTokenId,
                eosTokenId,
                padTokenId,
                decoderStartTokenId,
                useCache);
    }

    public GenerationConfig withEarlyStopping(EarlyStopping v) {
        return new GenerationConfig(
                maxLength,
                minLength,
                numBeams,
                lengthPenalty,
                v,
                noRepeatNgramSize,
                forcedBosTokenId,
                forcedEosTokenId,
                eosTokenId,
                padTokenId,
                decoderStartTokenId,
                useCache);
    }

    public GenerationConfig withNoRepeatNgramSize(int v) {
        return new GenerationConfig(
                maxLength,
                minLength,
                numBeams,
                lengthPenalty,
                earlyStopping,
                v,
                forcedBosTokenId,
                forcedEosTokenId,
                eosTokenId,
                padTokenId,
                decoderStartTokenId,
                useCache);
    }

    public GenerationConfig withForcedBosTokenId(long v) {
        return new GenerationConfig(
                maxLength,
                minLength,
                numBeams,
                lengthPenalty,
                earlyStopping,
                noRepeatNgramSize,
                v,
                forcedEosTokenId,
                eosTokenId,
                padTokenId,
                decoderStartTokenId,
                useCache);
    }

    public GenerationConfig withForcedEosTokenId(long v) {
        return new GenerationConfig(
                maxLength,
                minLength,
                numBeams,
                lengthPenalty,
                earlyStopping,
                noRepeatNgramSize,
                forcedBosTokenId,
                v,
                eosTokenId,
                padTokenId,
                decoderStartTokenId,
                useCache);
    }

    public GenerationConfig withUseCache(boolean v) {
        return new GenerationConfig(
                maxLength,
                minLength,
                numBeams,
                lengthPenalty,
                earlyStopping,
                noRepeatNgramSize,
                forcedBosTokenId,
                forcedEosTokenId,
                eosTokenId,
                padTokenId,
                decoderStartTokenId,
                v);
    }
}
