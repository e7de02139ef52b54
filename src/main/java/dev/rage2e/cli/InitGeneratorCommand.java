package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.model.Bert2BertWarmStart;
import dev.rage2e.model.BertForQuestionAnswering;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rag models init-generator}: a BERT2BERT generator warm-started from a BERT checkpoint. */
@Command(
        name = "init-generator",
        mixinStandardHelpOptions = true,
        description = {
            "Build a reader from a BERT checkpoint: a BERT2BERT generator (default) or, with --type "
                    + "span, an extractive span reader.",
            "bert2bert (HF EncoderDecoderModel layout): encoder and decoder layers copied from the checkpoint, new "
                    + "cross-attention, "
                    + "causal decoder, LM head tied to the word embeddings (Rothe et al. 2020). span (HF "
                    + "BertForQuestionAnswering): "
                    + "the checkpoint's BERT and a new start/end head. Prints a JSON summary."
        })
public final class InitGeneratorCommand implements Callable<Integer> {
    @Option(
            names = "--from",
            required = true,
            description = "BERT model directory (config.json, model.safetensors, tokenizer.json).")
    Path from;

    @Option(names = "--out", required = true, description = "Output directory for the generator.")
    Path out;

    @Option(
            names = "--decoder-layers",
            description = "Decoder depth N (default: the BERT's); N evenly spaced BERT "
                    + "layers, "
                    + "first and last included.")
    Integer decoderLayers;

    @Option(
            names = "--seed",
            defaultValue = "0",
            description = "Seed of the random cross-attention init (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(
            names = "--copy",
            description = "Add a copy head (pointer-generator, See et al. 2017): answers can be "
                    + "copied from the "
                    + "passage token by token.")
    boolean copy;

    @Option(names = "--force", description = "Replace --out if it exists.")
    boolean force;

    @Option(
            names = "--type",
            defaultValue = "bert2bert",
            description = "bert2bert (a generator, the default) or "
                    + "span (an extractive "
                    + "reader, HF BertForQuestionAnswering: the BERT with a start/end head; answers are spans of the "
                    + "passages).")
    String type;

    @Option(
            names = "--max-answer-tokens",
            defaultValue = "30",
            description = "Span reader: longest answer span in tokens (default ${DEFAULT-VALUE}).")
    int maxAnswerTokens;

    @Override
    public Integer call() throws Exception {
        if (Files.exists(out) && !force) throw new UserException(out + ": already exists (pass --force to replace it)");
        if (from.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize()))
            throw new UserException("--out must differ from --from");
        if (type.equals("span")) {
            if (copy || decoderLayers != null)
                throw new UserException("--copy and --decoder-layers are for --type bert2bert");
            long n = BertForQuestionAnswering.initFrom(
                    from,
                    out,
                    seed,
                    new BertForQuestionAnswering.Settings(
                            maxAnswerTokens, BertForQuestionAnswering.Settings.DEFAULT.maxQuestionTokens()));
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("out", out.toString());
            o.put("type", "span");
            o.put("architecture", BertForQuestionAnswering.ARCHITECTURE);
            o.put("max_answer_tokens", maxAnswerTokens);
            o.put("parameters", n);
            System.out.println(Json.write(o));
            return 0;
        }
        if (!type.equals("bert2bert")) throw new UserException("--type must be bert2bert or span, got '" + type + "'");
        Bert2BertWarmStart.Summary s = Bert2BertWarmStart.initGenerator(from, out, decoderLayers, seed, copy);
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("out", out.toString());
        o.put("encoder_layers", s.encoderLayers());
        ArrayNode l = o.putArray("decoder_layers_from");
        for (int i : s.decoderLayersFrom()) l.add(i);
        o.put("lm_head", s.lmHeadFromCheckpoint() ? "cls.predictions from checkpoint" : "random init");
        o.put("decoder_start_token_id", s.decoderStartTokenId());
        o.put("eos_token_id", s.eosTokenId());
        o.put("pad_token_id", s.padTokenId());
        o.put("tokenizer", s.tokenizer());
        o.put("copy_mechanism", copy);
        o.put("parameters", s.parameters());
        if (!s.tokenizer())
            System.err.println(
                    "rag: warning: " + from + " has no tokenizer.json; the generator takes --input-ids only");
        System.out.println(Json.write(o));
        return 0;
    }
}
