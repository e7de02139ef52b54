package dev.rage2e.cli;

import picocli.CommandLine.Command;

/** {@code rag bench}: benchmarks (not tests), each printing JSON. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks; each prints its measurements as JSON.",
        subcommands = {BenchIndexCommand.class})
public final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
