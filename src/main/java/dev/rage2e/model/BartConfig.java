package dev.rage2e.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;

/**
 * The fields of HF's {@code BartConfig} that shape the network, with HF's defaults (bart-large) for
 * absent keys. The JSON it came from is kept so that saving preserves every field.
 */
public record BartConfig(
        int vocabSize,
        int dModel,
        int encoderLayers,
        int decoderLayers,
        int encoderAttentionHeads,
        int decoderAttentionHeads,
        int encoderFfnDim,
        int decoderFfnDim,
        String activationFunction,
        float dropout,
        float attentionDropout,
        float activationDropout,
        int maxPositionEmbeddings,
        boolean scaleEmbedding,
        boolean tieWordEmbeddings,
        long padTokenId,
        long bosTokenId,
        long eosTokenId,
        long decoderStartTokenId,
        ObjectNode json) {

    /** BART's learned positional embeddings reserve two rows before position 0 (a fairseq legacy). */
    public static final int POSITION_OFFSET = 2;

    /** nn.LayerNorm's default, which BART uses everywhere. */
    public static final float LAYER_NORM_EPS = 1e-5f;

    public BartConfig {
        require(vocabSize > 0, "vocab_size", vocabSize);
        require(dModel > 0, "d_model", dModel);
        require(encoderLayers >= 0 && encoderLayers <= 256, "encoder_layers", encoderLayers);
        require(decoderLayers >= 0 && decoderLayers <= 256, "decoder_layers", decoderLayers);
        require(
                encoderAttentionHeads > 0 && dModel % encoderAttentionHeads == 0,
                "encoder_attention_heads",
                encoderAttentionHeads + " (must divide d_model " + dModel + ")");
        require(
                decoderAttentionHeads > 0 && dModel % decoderAttentionHeads == 0,
                "decoder_attention_heads",
                decoderAttentionHeads + " (must divide d_model " + dModel + ")");
        require(encoderFfnDim > 0, "encoder_ffn_dim", encoderFfnDim);
        require(decoderFfnDim > 0, "decoder_ffn_dim", decoderFfnDim);
        require(Activations.isKnown(activationFunction), "activation_function", activationFunction);
        require(dropout >= 0 && dropout < 1, "dropout", dropout);
        require(attentionDropout >= 0 && attentionDropout < 1, "attention_dropout", attentionDropout);
        require(activationDropout >= 0 && activationDropout < 1, "activation_dropout", activationDropout);
        require(maxPositionEmbeddings > 0, "max_position_embeddings", maxPositionEmbeddings);
        require(padTokenId >= 0 && padTokenId < vocabSize, "pad_token_id", padTokenId);
        require(eosTokenId >= 0 && eosTokenId < vocabSize, "eos_token_id", eosTokenId);
        require(
                decoderStartTokenId >= 0 && decoderStartTokenId < vocabSize,
                "decoder_start_token_id",
                decoderStartTokenId);
    }

    private static void require(boolean ok, String field, Object value) {
        if (!ok) throw new IllegalArgumentException("invalid " + field + ": " + value);
    }

    public float embedScale() {
        return scaleEmbedding ? (float) Math.sqrt(dModel) : 1f;
    }

    public static BartConfig load(Path configJson) {
        try {
            return fromJson(Json.read(configJson));
        } catch (IllegalArgumentException e) {
            throw new UserException(configJson + ": " + e.getMessage());
        }
    }

    public static BartConfig fromJson(JsonNode n) {
        if (n == null || !n.isObject()) throw new IllegalArgumentException("config is not a JSON object");
        // mBART-style variants (pre-LayerNorm, final layer norms) are other architectures; refuse them clearly
        if (n.path("normalize_before").asBoolean(false)
                || n.path("add_final_layer_norm").asBoolean(false)) {
            throw new IllegalArgumentException(
                    "normalize_before / add_final_layer_norm (mBART-style pre-LN) are not supported");
        }
        if (n.path("static_position_embeddings").asBoolean(false)) {
            throw new IllegalArgumentException("static_position_embeddings=true is not supported");
        }
        return new BartConfig(
                BertConfig.intField(n, "vocab_size", 50265),
                BertConfig.intField(n, "d_model", 1024),
                BertConfig.intField(n, "encoder_layers", 12),
                BertConfig.intField(n, "decoder_layers", 12),
                BertConfig.intField(n, "encoder_attention_heads", 16),
                BertConfig.intField(n, "decoder_attention_heads", 16),
                BertConfig.intField(n, "encoder_ffn_dim", 4096),
                BertConfig.intField(n, "decoder_ffn_dim", 4096),
                n.path("activation_function").asText("gelu"),
                (float) BertConfig.numField(n, "dropout", 0.1),
                (float) BertConfig.numField(n, "attention_dropout", 0.0),
                (float) BertConfig.numField(n, "activation_dropout", 0.0),
                BertConfig.intField(n, "max_position_embeddings", 1024),
                n.path("scale_embedding").asBoolean(false),
                n.path("tie_word_embeddings").asBoolean(true),
                BertConfig.intField(n, "pad_token_id", 1),
                BertConfig.intField(n, "bos_token_id", 0),
                BertConfig.intField(n, "eos_token_id", 2),
                BertConfig.intField(n, "decoder_start_token_id", 2),
                (ObjectNode) n.deepCopy());
    }
}
