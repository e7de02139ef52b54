package dev.rage2e.cli;

import picocli.CommandLine.Command;

/** {@code rag experiment}: scripted, reproducible comparisons that write a report folder. */
@Command(
        name = "experiment",
        mixinStandardHelpOptions = true,
        description = "Scripted experiments: build what they need, train, evaluate and write report.md, "
                + "results.json and plots.",
        subcommands = {SquadKbExperimentCommand.class, MergeExperimentCommand.class})
public final class ExperimentCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
