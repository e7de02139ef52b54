package dev.rage2e.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.model.TextTokenizer;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code rag embed}: pooled vectors (and optionally hidden states) for texts or raw token ids. */
@Command(
        name = "embed",
        mixinStandardHelpOptions = true,
        description = "Print one JSON line per input with the pooled vector as the model's rag-e2e.json defines it.")
public final class EmbedCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory in HF layout (models/NAME).")
    Path model;

    @Option(names = "--query", description = "Treat texts as queries (query prefix).")
    boolean query;

    @Option(names = "--passage", description = "Treat texts as passages (passage prefix; the default).")
    boolean passage;

    @Option(
            names = "--input-ids",
            description = "Token ids as JSON, e.g. '[[101,7592,102],[101,102]]'; padding is masked.")
    String inputIds;

    @Option(names = "--hidden-states", description = "Also print the last hidden states [tokens][hidden].")
    boolean hiddenStates;

    @Option(
            names = "--max-len",
            defaultValue = "512",
            description = "Truncate texts to this many tokens (default ${DEFAULT-VALUE}).")
    int maxLen;

    @Parameters(arity = "0..*", description = "Texts to embed.")
    List<String> texts = List.of();

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        if (query && passage) throw new UserException("--query and --passage are exclusive");
        if (inputIds == null && texts.isEmpty()) throw new UserException("give TEXT arguments or --input-ids");
        try (NDManager root = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(model, root)) {
            long[][] seqs = inputIds != null ? parseIds(inputIds) : enc.tokenize(texts, query, maxLen);
            try (NDManager m = root.newSubManager()) {
                TextTokenizer.Batch b = TextTokenizer.pad(m, seqs, enc.config.padTokenId());
                NDArray pooled = enc.embed(b.ids(), b.mask(), false);
                NDArray hidden = hiddenStates
                        ? enc.bert.forward(b.ids(), b.mask(), null, false).lastHiddenState()
                        : null;
                float[] flat = pooled.toFloatArray();
                int d = enc.dim();
                long len = b.ids().getShape().get(1);
                float[] hflat = hidden == null ? null : hidden.toFloatArray();
                for (int i = 0; i < seqs.length; i++) {
                    ObjectNode o = Json.MAPPER.createObjectNode();
                    if (inputIds == null) o.put("text", texts.get(i));
                    ArrayNode ids = o.putArray("input_ids");
                    for (long id : seqs[i]) ids.add(id);
                    ArrayNode v = o.putArray("embedding");
                    for (int j = 0; j < d; j++) v.add(flat[i * d + j]);
                    if (hflat != null) {
                        ArrayNode hs = o.putArray("last_hidden_state");
                        for (int t = 0; t < seqs[i].length; t++) {
                            ArrayNode row = hs.addArray();
                            for (int j = 0; j < d; j++) row.add(hflat[(int) ((i * len + t) * d + j)]);
                        }
                    }
                    System.out.println(Json.write(o));
                }
            }
        }
        return 0;
    }

    static long[][] parseIds(String json) {
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(json);
        } catch (Exception e) {
            throw new UserException(
                    "--input-ids: invalid JSON: " + e.getMessage().split("\n")[0]);
        }
        if (n == null || !n.isArray() || n.isEmpty())
            throw new UserException("--input-ids: expected a non-empty array of arrays of ints");
        long[][] out = new long[n.size()][];
        for (int i = 0; i < n.size(); i++) {
            JsonNode row = n.get(i);
            if (!row.isArray() || row.isEmpty())
                throw new UserException("--input-ids: row " + i + " is not a non-empty array");
            out[i] = new long[row.size()];
            for (int j = 0; j < row.size(); j++) {
                if (!row.get(j).isIntegralNumber() || row.get(j).asLong() < 0) {
                    throw new UserException(
                            "--input-ids: row " + i + " position " + j + " is not a token id: " + row.get(j));
                }
                out[i][j] = row.get(j).asLong();
            }
        }
        return out;
    }
}
