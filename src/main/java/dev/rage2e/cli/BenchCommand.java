package dev.rage2e.cli;

import picocli.CommandLine.Command;

/** {@code rag bench}: throughput benchmarks (not tests); each subcommand prints one JSON result. */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = "Benchmarks that print JSON: throughput and the fraction of this machine's matmul roofline "
                + "reached.",
        subcommands = {
            BenchEncodeCommand.class,
            BenchIndexCommand.class,
            BenchGenerateCommand.class,
            BenchServeCommand.class,
            BenchTrainCommand.class,
            BenchRooflineCommand.class
        })
public final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
