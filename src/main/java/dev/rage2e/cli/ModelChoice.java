package dev.rage2e.cli;

import dev.rage2e.experiment.Workspace;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The models a scripted run starts from (the demo, the SQuAD-KB experiment), as shared flags: the
 * question/passage encoder and the reader warm-started from a BERT: an extractive span reader (the default), or a
 * BERT2BERT generator with its depth and copy head.
 */
final class ModelChoice {
    @Option(
            names = "--reader",
            defaultValue = "span",
            description = "span (extractive reader, HF "
                    + "BertForQuestionAnswering) or "
                    + "bert2bert (generator) (default ${DEFAULT-VALUE}).")
    String reader;

    @Option(
            names = "--retriever",
            defaultValue = "all-minilm-l6-v2",
            description = "Question/passage encoder (default ${DEFAULT-VALUE}).")
    String retriever;

    @Option(
            names = "--generator-from",
            defaultValue = "all-minilm-l6-v2",
            description = "BERT the reader is warm-started from (default ${DEFAULT-VALUE}).")
    String generatorFrom;

    @Option(
            names = "--decoder-layers",
            defaultValue = "3",
            description = "Generator decoder layers (default ${DEFAULT-VALUE}).")
    int decoderLayers;

    @Option(
            names = "--copy",
            negatable = true,
            defaultValue = "true",
            fallbackValue = "true",
            description = "Generator with a copy head "
                    + "(pointer-generator, See et al. 2017); --no-copy for the plain BERT2BERT (default "
                    + "${DEFAULT-VALUE}).")
    boolean copy;

    /** The retriever's model directory (fetched when missing). */
    Path retriever(Workspace ws) throws IOException {
        return ws.model(retriever);
    }

    boolean span() {
        if (!reader.equals("span") && !reader.equals("bert2bert")) {
            throw new dev.rage2e.util.UserException("--reader must be span or bert2bert, got '" + reader + "'");
        }
        return reader.equals("span");
    }

    /** The warm-started reader under {@code workDir}, made unless a previous run left it there. */
    Path generator(Workspace ws, Path workDir) throws IOException {
        if (span()) return ws.spanReader(ws.model(generatorFrom), workDir.resolve("span-reader-" + generatorFrom));
        Path dir = workDir.resolve("generator-" + generatorFrom + "-d" + decoderLayers + (copy ? "-copy" : ""));
        return ws.generator(ws.model(generatorFrom), dir, decoderLayers, copy);
    }

    /** One line for reports. */
    String describeGenerator() {
        if (span()) return "span reader (BertForQuestionAnswering) warm-started from " + generatorFrom;
        return "BERT2BERT warm-started from " + generatorFrom + ", " + decoderLayers + " decoder layers"
                + (copy ? ", copy head (pointer-generator)" : ", no copy head");
    }

    /** The flags that reproduce this choice. */
    String flags() {
        if (span()) return " --retriever " + retriever + " --reader span --generator-from " + generatorFrom;
        return " --retriever " + retriever + " --reader bert2bert --generator-from " + generatorFrom + " "
                + "--decoder-layers " + decoderLayers
                + (copy ? " --copy" : " --no-copy");
    }
}
