package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.kb.KbBuilder;
import dev.rage2e.util.Json;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rag kb build}: documents to a passage store. */
@Command(
        name = "build",
        mixinStandardHelpOptions = true,
        description = "Chunk documents (TSV/CSV with a title,text header; JSON Lines with title and text; SQuAD "
                + "JSON contexts) "
                + "into passages of at most --words words, with stable ids, into a new KB directory. Prints the "
                + "manifest.")
public final class KbBuildCommand implements Callable<Integer> {
    @Option(
            names = "--input",
            required = true,
            arity = "1..*",
            description = "Input files (.tsv, .csv, .jsonl, SQuAD .json).")
    List<Path> inputs;

    @Option(names = "--out", required = true, description = "KB directory to create (must not exist).")
    Path out;

    @Option(
            names = "--words",
            defaultValue = "100",
            description = "Maximum words per passage (default ${DEFAULT-VALUE}).")
    int words;

    @Override
    public Integer call() throws Exception {
        ObjectNode manifest = KbBuilder.build(inputs, out, words);
        System.out.println(Json.pretty(manifest));
        return 0;
    }
}
