package dev.rage2e.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;

/**
 * HF's {@code EncoderDecoderConfig} restricted to what runs here: a BERT encoder and a BERT decoder
 * ({@code is_decoder} and {@code add_cross_attention}) of the same hidden size, with the top-level
 * special tokens generation needs. The JSON it came from is kept so that saving preserves every field.
 */
public record EncoderDecoderConfig(
        BertConfig encoder,
        BertConfig decoder,
        long decoderStartTokenId,
        long eosTokenId,
        long padTokenId,
        long bosTokenId,
        boolean tieDecoderWordEmbeddings,
        ObjectNode json) {

    public static EncoderDecoderConfig load(Path configJson) {
        try {
            return fromJson(Json.read(configJson));
        } catch (IllegalArgumentException e) {
            throw new UserException(configJson + ": " + e.getMessage());
        }
    }

    public static EncoderDecoderConfig fromJson(JsonNode n) {
        if (n == null || !n.isObject()) throw new IllegalArgumentException("config is not a JSON object");
        String type = n.path("model_type").asText("");
        if (!type.equals("encoder-decoder"))
            throw new IllegalArgumentException("model_type is '" + type + "', expected 'encoder-decoder'");
        JsonNode enc = n.get("encoder"), dec = n.get("decoder");
        if (enc == null || !enc.isObject()) throw new IllegalArgumentException("missing object field 'encoder'");
        if (dec == null || !dec.isObject()) throw new IllegalArgumentException("missing object field 'decoder'");
        for (String side : new String[] {"encoder", "decoder"}) {
            String t = n.get(side).path("model_type").asText("");
            if (!t.equals("bert")) {
                throw new IllegalArgumentException(side + ".model_type is '" + t + "'; only BERT encoders/decoders "
                        + "(BERT2BERT) are supported");
            }
        }
        if (n.path("tie_encoder_decoder").asBoolean(false)
                || dec.path("tie_encoder_decoder").asBoolean(false)) {
            throw new IllegalArgumentException(
                    "tie_encoder_decoder=true (shared encoder/decoder weights) is not supported");
        }
        BertConfig e = BertConfig.fromJson(enc);
        BertConfig d = BertConfig.fromJson(dec);
        if (!d.isDecoder() || !d.addCrossAttention()) {
            throw new IllegalArgumentException("decoder must have is_decoder=true and add_cross_attention=true");
        }
        if (e.hiddenSize() != d.hiddenSize()) {
            throw new IllegalArgumentException("encoder hidden_size " + e.hiddenSize() + " != decoder "
                    + "hidden_size " + d.hiddenSize()
                    + " (an enc_to_dec_proj is not supported)");
        }
        long start = token(n, dec, "decoder_start_token_id");
        if (start < 0) throw new IllegalArgumentException("decoder_start_token_id is not set");
        long eos = token(n, dec, "eos_token_id");
        long pad = token(n, dec, "pad_token_id");
        long bos = token(n, dec, "bos_token_id");
        return new EncoderDecoderConfig(
                e,
                d,
                start,
                eos,
                pad < 0 ? 0 : pad,
                bos,
                dec.path("tie_word_embeddings").asBoolean(true),
                (ObjectNode) n.deepCopy());
    }

    /** Top-level value, else the decoder's, else -1. */
    private static long token(JsonNode top, JsonNode dec, String field) {
        for (JsonNode n : new JsonNode[] {top, dec}) {
            JsonNode v = n.get(field);
            if (v != null && !v.isNull()) {
                if (!v.isIntegralNumber() || v.asLong() < 0)
                    throw new IllegalArgumentException(field + " must be a token id, got " + v);
                return v.asLong();
            }
        }
        return -1;
    }

    /**
     * An HF {@code EncoderDecoderModel} config.json for a BERT encoder and decoder, as
     * {@code EncoderDecoderConfig.from_encoder_decoder_configs} writes it.
     */
    public static EncoderDecoderConfig create(
            BertConfig encoder, BertConfig decoder, long decoderStart, long eos, long pad) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.putArray("architectures").add("EncoderDecoderModel");
        o.put("model_type", "encoder-decoder");
        o.put("is_encoder_decoder", true);
        ObjectNode enc = encoder.toJson();
        enc.put("is_decoder", false);
        enc.put("add_cross_attention", false);
        o.set("encoder", enc);
        ObjectNode dec = decoder.asDecoder().toJson();
        dec.putArray("architectures").add("BertLMHeadModel");
        dec.put("tie_word_embeddings", true);
        o.set("decoder", dec);
        o.put("decoder_start_token_id", decoderStart);
        o.put("eos_token_id", eos);
        o.put("pad_token_id", pad);
        o.put("tie_encoder_decoder", false);
        o.put("vocab_size", decoder.vocabSize());
        o.put("torch_dtype", "float32");
        return fromJson(o);
    }
}
