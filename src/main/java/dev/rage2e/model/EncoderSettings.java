package dev.rage2e.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * {@code rag-e2e.json}: how a BERT encoder turns hidden states into one vector. {@code cls} takes the
 * [CLS] hidden state (DPR), {@code pooler} HF's tanh pooler output, {@code mean} the masked mean
 * (e5, MiniLM, bge uses cls); prefixes are prepended to queries / passages (e5: "query: ").
 */
public record EncoderSettings(
        String pooling, boolean normalize, String queryPrefix, String passagePrefix, int maxLength) {
    public static final String FILE = "rag-e2e.json";
    private static final Set<String> KEYS =
            Set.of("pooling", "normalize", "query_prefix", "passage_prefix", "max_length", "source");

    public EncoderSettings {
        if (!Set.of("cls", "mean", "pooler").contains(pooling)) {
            throw new IllegalArgumentException("pooling must be cls, mean or pooler, got '" + pooling + "'");
        }
        if (maxLength <= 0) throw new IllegalArgumentException("max_length must be positive, got " + maxLength);
    }

    /** DPR convention: [CLS] vector, no normalisation, no prefixes. */
    public static EncoderSettings dpr() {
        return new EncoderSettings("cls", false, "", "", 512);
    }

    public static EncoderSettings load(Path dir) {
        Path f = dir.resolve(FILE);
        if (!Files.exists(f)) return dpr();
        JsonNode n = Json.read(f);
        n.fieldNames().forEachRemaining(k -> {
            if (!KEYS.contains(k)) throw new UserException(f + ": unknown key '" + k + "' (known: " + KEYS + ")");
        });
        try {
            return new EncoderSettings(
                    n.path("pooling").asText("cls"),
                    n.path("normalize").asBoolean(false),
                    n.path("query_prefix").asText(""),
                    n.path("passage_prefix").asText(""),
                    n.path("max_length").asInt(512));
        } catch (IllegalArgumentException e) {
            throw new UserException(f + ": " + e.getMessage());
        }
    }

    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("pooling", pooling);
        o.put("normalize", normalize);
        o.put("query_prefix", queryPrefix);
        o.put("passage_prefix", passagePrefix);
        o.put("max_length", maxLength);
        return o;
    }
}
