package dev.rage2e.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.model.GenerationConfig;
import dev.rage2e.model.Seq2SeqModel;
import dev.rage2e.model.Seq2SeqModels;
import dev.rage2e.model.generate.Generation;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code rag generate}: seq2seq generation (greedy or beam search) from texts or token ids. */
@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        description = {
            "Generate with a seq2seq model (BART or BERT2BERT in HF layout); one JSON line per input, "
                    + "in input order.",
            "Unset decoding options take the model's generation_config.json (else config.json, else HF's defaults)."
        })
public final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Generator directory (models/NAME).")
    Path model;

    @Option(
            names = "--input-ids",
            description = "Encoder token ids as JSON, e.g. '[[101,7592,102],[101,102]]'; prints token ids.")
    String inputIds;

    @Option(names = "--num-beams", description = "Beam width (1 = greedy).")
    Integer numBeams;

    @Option(names = "--max-length", description = "Maximum output length, decoder start token included.")
    Integer maxLength;

    @Option(
            names = "--min-length",
            description = "EOS is blocked until the output (start token included) has this length.")
    Integer minLength;

    @Option(names = "--length-penalty", description = "Beam scores are divided by length ** this.")
    Double lengthPenalty;

    @Option(names = "--early-stopping", description = "Beam search stop rule: true, false or never.")
    String earlyStopping;

    @Option(names = "--no-repeat-ngram-size", description = "Forbid repeating n-grams of this size (0 = off).")
    Integer noRepeatNgramSize;

    @Option(names = "--batch-size", defaultValue = "16", description = "Inputs per batch (default ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(
            names = "--max-input-length",
            defaultValue = "512",
            description = "Truncate inputs to this many tokens (default ${DEFAULT-VALUE}).")
    int maxInputLength;

    @Parameters(arity = "0..*", description = "Input texts.")
    List<String> texts = List.of();

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        if (inputIds == null && texts.isEmpty()) throw new UserException("give INPUT texts or --input-ids");
        if (inputIds != null && !texts.isEmpty())
            throw new UserException("give either INPUT texts or --input-ids, not both");
        if (batchSize < 1) throw new UserException("--batch-size must be >= 1");
        try (NDManager root = NDManager.newBaseManager();
                Seq2SeqModel m = Seq2SeqModels.load(model, root)) {
            GenerationConfig cfg = options(m.generationConfig());
            int maxTarget = Seq2SeqModels.maxDecoderPositions(m);
            if (cfg.maxLength() > maxTarget)
                throw new UserException(
                        "--max-length " + cfg.maxLength() + " exceeds the decoder's " + maxTarget + " positions");
            int maxSource = Math.min(maxInputLength, Seq2SeqModels.maxEncoderPositions(m));
            long[][] seqs = inputIds != null
                    ? EmbedCommand.parseIds(inputIds)
                    : m.tokenizer().encodeBatch(texts, maxSource);
            for (int i = 0; i < seqs.length; i++) {
                if (seqs[i].length > maxSource)
                    throw new UserException("--input-ids: row " + i + " "
                            + "has " + seqs[i].length
                            + " tokens, more than the encoder's " + maxSource + " positions");
                for (long id : seqs[i]) {
                    if (id >= m.vocabSize())
                        throw new UserException(
                                "--input-ids: row " + i + " has id " + id + " >= vocab size " + m.vocabSize());
                }
            }
            Generation.Result[] perRow = new Generation.Result[seqs.length];
            int[] rowInBatch = new int[seqs.length];
            // length-sorted batches waste little compute on padding; results are printed in input order
            Integer[] order = new Integer[seqs.length];
            for (int i = 0; i < order.length; i++) order[i] = i;
            Arrays.sort(order, Comparator.comparingInt(i -> seqs[i].length));
            for (int start = 0; start < order.length; start += batchSize) {
                int end = Math.min(order.length, start + batchSize);
                long[][] batch = new long[end - start][];
                for (int i = start; i < end; i++) batch[i - start] = seqs[order[i]];
                Generation.Result r = Generation.generate(m, batch, cfg, root);
                for (int i = start; i < end; i++) {
                    perRow[order[i]] = r;
                    rowInBatch[order[i]] = i - start;
                }
            }
            for (int i = 0; i < seqs.length; i++) {
                Generation.Result r = perRow[i];
                int j = rowInBatch[i];
                long[] tokens = r.tokens(j, cfg.eosTokenId());
                ObjectNode o = Json.MAPPER.createObjectNode();
                if (inputIds == null) {
                    o.put("input", texts.get(i));
                    o.put("output", m.tokenizer().decode(tokens, true));
                } else {
                    ArrayNode in = o.putArray("input_ids");
                    for (long id : seqs[i]) in.add(id);
                }
                ArrayNode seq = o.putArray("sequence");
                long[] full = r.sequences()[j]; // HF's row: start token, output, EOS, then padding (dropped here)
                for (int k = 0; k < full.length; k++) {
                    seq.add(full[k]);
                    if (k > 0 && full[k] == cfg.eosTokenId()) break;
                }
                o.put("score", r.scores()[j]);
                System.out.println(Json.write(o));
            }
        }
        return 0;
    }

    private GenerationConfig options(GenerationConfig c) {
        try {
            if (numBeams != null) c = c.withNumBeams(numBeams);
            if (maxLength != null) c = c.withMaxLength(maxLength);
            if (minLength != null) c = c.withMinLength(minLength);
            if (lengthPenalty != null) c = c.withLengthPenalty(lengthPenalty);
            if (noRepeatNgramSize != null) c = c.withNoRepeatNgramSize(noRepeatNgramSize);
            if (earlyStopping != null) {
                c = c.withEarlyStopping(
                        switch (earlyStopping) {
                            case "true" -> GenerationConfig.EarlyStopping.TRUE;
                            case "false" -> GenerationConfig.EarlyStopping.FALSE;
                            case "never" -> GenerationConfig.EarlyStopping.NEVER;
                            default ->
                                throw new UserException(
                                        "--early-stopping must be true, false or never, got '" + earlyStopping + "'");
                        });
            }
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
        return c;
    }
}
