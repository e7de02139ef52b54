package dev.rage2e.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.util.Json;
import java.util.List;
import java.util.Set;

/**
 * Whether two experiment invocations made their runs the same way, so their numbers may stand in one table: the
 * setup fields that define the comparison (data, split, models, budget) and every training-configuration key except
 * the ones that differ between the runs of one invocation by design (seed, mode, the mode's KB copy).
 */
public final class SameSetup {
    /** Setup fields that must match. */
    static final List<String> SETUP_FIELDS = List.of(
            "split",
            "kb_passages",
            "train_questions",
            "test_questions_recall",
            "test_questions_em",
            "retriever",
            "generator",
            "copy_mechanism",
            "parts",
            "reader_stage_minutes",
            "budget_minutes");

    /** Configuration keys that differ between the runs of one invocation. */
    static final Set<String> PER_RUN = Set.of("seed", "mode", "kb");

    /** Configuration keys that are locations on one machine (the models behind them are named in the setup). */
    public static final Set<String> PATHS = Set.of("question-encoder", "context-encoder", "generator", "train");

    private SameSetup() {}

    /**
     * The first difference between invocation A (its results.json's {@code setup} and {@code config}) and B, as
     * "setup 'x'" or "config 'k' (a there, b now)", or null when they match.
     *
     * @param skipSetup setup fields not compared
     * @param skipConfig configuration keys not compared besides {@link #PER_RUN}
     */
    public static String difference(
            JsonNode setupA,
            JsonNode configA,
            JsonNode setupB,
            JsonNode configB,
            Set<String> skipSetup,
            Set<String> skipConfig) {
        for (String k : SETUP_FIELDS)
            if (!skipSetup.contains(k) && !setupA.path(k).equals(setupB.path(k))) return "setup '" + k + "'";
        JsonNode a = comparable(configA, skipConfig), b = comparable(configB, skipConfig);
        // a key added to the config since A was made (absent there) counts as equal when B has its default value;
        // a key A has and B's code no longer knows is not compared
        JsonNode defaults = comparable(Json.MAPPER.valueToTree(new TrainConfig()), skipConfig);
        for (var it = b.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            JsonNode then = a.has(k) ? a.get(k) : defaults.path(k);
            if (!then.equals(b.get(k))) return "config '" + k + "' (" + a.path(k) + " there, " + b.get(k) + " now)";
        }
        return null;
    }

    /** Through text, as a stored file went: a float field in memory and its value read back compare equal. */
    private static JsonNode comparable(JsonNode config, Set<String> skip) {
        ObjectNode c;
        try {
            c = (ObjectNode)
                    Json.MAPPER.readTree(Json.write(config.isObject() ? config : Json.MAPPER.createObjectNode()));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e); // our own output
        }
        c.remove(PER_RUN);
        c.remove(skip);
        return c;
    }
}
