package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.experiment.ResultsMerge;
import dev.rage2e.experiment.SquadKbReport;
import dev.rage2e.util.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code rag experiment merge}: one report from experiments run apart (more seeds, another machine). */
@Command(
        name = "merge",
        mixinStandardHelpOptions = true,
        description = "Merge the runs of experiments made the same way (same setup, recipe, reader stage and "
                + "starting point; paths may differ) into one results.json, report.md and curves.png.")
public final class MergeExperimentCommand implements Callable<Integer> {
    @Parameters(arity = "2..*", paramLabel = "RESULTS", description = "results.json files of `rag experiment run`.")
    List<Path> files;

    @Option(names = "--out", required = true, description = "Folder for the merged report (created).")
    Path out;

    @Override
    public Integer call() throws Exception {
        ObjectNode merged = ResultsMerge.merge(files);
        Files.createDirectories(out);
        SquadKbReport.write(out, merged);
        System.out.println(Json.pretty(SquadKbReport.summary(merged)));
        return 0;
    }
}
