package dev.rage2e.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;

/**
 * The fields of Hugging Face's {@code BertConfig} that shape the network. Missing fields take HF's
 * defaults (bert-base), so configs written by {@code save_pretrained} (which omits defaults) load.
 */
public record BertConfig(
        int vocabSize,
        int hiddenSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int intermediateSize,
        String hiddenAct,
        float hiddenDropoutProb,
        float attentionProbsDropoutProb,
        int maxPositionEmbeddings,
        int typeVocabSize,
        float layerNormEps,
        int padTokenId,
        boolean isDecoder,
        boolean addCrossAttention) {

    public BertConfig {
        require(vocabSize > 0, "vocab_size", vocabSize);
        require(hiddenSize > 0, "hidden_size", hiddenSize);
        require(numHiddenLayers >= 0 && numHiddenLayers <= 256, "num_hidden_layers", numHiddenLayers);
        require(
                numAttentionHeads > 0 && hiddenSize % numAttentionHeads == 0,
                "num_attention_heads",
                numAttentionHeads + " (must divide hidden_size " + hiddenSize + ")");
        require(intermediateSize > 0, "intermediate_size", intermediateSize);
        require(hiddenDropoutProb >= 0 && hiddenDropoutProb < 1, "hidden_dropout_prob", hiddenDropoutProb);
        require(
                attentionProbsDropoutProb >= 0 && attentionProbsDropoutProb < 1,
                "attention_probs_dropout_prob",
                attentionProbsDropoutProb);
        require(maxPositionEmbeddings > 0, "max_position_embeddings", maxPositionEmbeddings);
        require(typeVocabSize >= 0, "type_vocab_size", typeVocabSize);
        require(layerNormEps > 0 && layerNormEps < 1, "layer_norm_eps", layerNormEps);
        require(Activations.isKnown(hiddenAct), "hidden_act", hiddenAct);
    }

    private static void require(boolean ok, String field, Object value) {
        if (!ok) throw new IllegalArgumentException("invalid " + field + ": " + value);
    }

    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    public static BertConfig load(Path configJson) {
        JsonNode n = Json.read(configJson);
        try {
            return fromJson(n);
        } catch (IllegalArgumentException e) {
            throw new UserException(configJson + ": " + e.getMessage());
        }
    }

    public static BertConfig fromJson(JsonNode n) {
        if (n == null || !n.isObject()) throw new IllegalArgumentException("config is not a JSON object");
        return new BertConfig(
                intField(n, "vocab_size", 30522),
                intField(n, "hidden_size", 768),
                intField(n, "num_hidden_layers", 12),
                intField(n, "num_attention_heads", 12),
                intField(n, "intermediate_size", 3072),
                n.path("hidden_act").asText("gelu"),
                (float) numField(n, "hidden_dropout_prob", 0.1),
                (float) numField(n, "attention_probs_dropout_prob", 0.1),
                intField(n, "max_position_embeddings", 512),
                intField(n, "type_vocab_size", 2),
                (float) numField(n, "layer_norm_eps", 1e-12),
                n.path("pad_token_id").isNull() ? 0 : intField(n, "pad_token_id", 0),
                n.path("is_decoder").asBoolean(false),
                n.path("add_cross_attention").asBoolean(false));
    }

    static int intField(JsonNode n, String field, int dflt) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) return dflt;
        if (!v.canConvertToInt() || !v.isIntegralNumber())
            throw new IllegalArgumentException("field " + field + " must be an integer, got " + v);
        return v.asInt();
    }

    static double numField(JsonNode n, String field, double dflt) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) return dflt;
        if (!v.isNumber()) throw new IllegalArgumentException("field " + field + " must be a number, got " + v);
        return v.asDouble();
    }

    /** HF-style config.json content (all fields written, model_type bert). */
    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.putArray("architectures").add("BertModel");
        o.put("model_type", "bert");
        o.put("vocab_size", vocabSize);
        o.put("hidden_size", hiddenSize);
        o.put("num_hidden_layers", numHiddenLayers);
        o.put("num_attention_heads", numAttentionHeads);
        o.put("intermediate_size", intermediateSize);
        o.put("hidden_act", hiddenAct);
        o.put("hidden_dropout_prob", hiddenDropoutProb);
        o.put("attention_probs_dropout_prob", attentionProbsDropoutProb);
        o.put("max_position_embeddings", maxPositionEmbeddings);
        o.put("type_vocab_size", typeVocabSize);
        o.put("layer_norm_eps", layerNormEps);
        o.put("pad_token_id", padTokenId);
        o.put("position_embedding_type", "absolute");
        o.put("is_decoder", isDecoder);
        o.put("add_cross_attention", addCrossAttention);
        o.put("torch_dtype", "float32");
        return o;
    }

    public BertConfig asDecoder() {
        return new BertConfig(
                vocabSize,
                hiddenSize,
                numHiddenLayers,
                numAttentionHeads,
                intermediateSize,
                hiddenAct,
                hiddenDropoutProb,
                attentionProbsDropoutProb,
                maxPositionEmbeddings,
                typeVocabSize,
                layerNormEps,
                padTokenId,
                true,
                true);
    }

    public BertConfig withLayers(int layers) {
        return new BertConfig(
                vocabSize,
                hiddenSize,
                layers,
                numAttentionHeads,
                intermediateSize,
                hiddenAct,
                hiddenDropoutProb,
                attentionProbsDropoutProb,
                maxPositionEmbeddings,
                typeVocabSize,
                layerNormEps,
                padTokenId,
                isDecoder,
                addCrossAttention);
    }
}
