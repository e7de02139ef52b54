package dev.rage2e.cli;

import picocli.CommandLine.Command;

/** {@code rag eval}: evaluations, one subcommand each. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Evaluate retrieval (and, later, answers).",
        subcommands = {EvalRetrievalCommand.class})
public final class EvalCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
