package dev.rage2e.cli;

import dev.rage2e.util.Choice;
import dev.rage2e.util.UserException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ./rag} command line: one subcommand per user verb, each a thin layer over the packages.
 * User errors print one line ("rag: FILE:LINE: problem") and exit 2; I/O errors (disk full, unwritable
 * output) one line and exit 4; bugs print a stack trace, exit 1.
 */
@Command(
        name = "rag",
        mixinStandardHelpOptions = true,
        version = "rag-e2e 0.1.0",
        description = "End-to-end Retrieval-Augmented Generation: train question encoder, passage encoder and "
                + "generator "
                + "together, keep the knowledge-base index fresh, evaluate and serve.",
        subcommands = {
            EmbedCommand.class,
            ModelsCommand.class,
            KbCommand.class,
            IndexCommand.class,
            SearchCommand.class,
            EvalCommand.class,
            GenerateCommand.class,
            TrainCommand.class,
            ServeCommand.class,
            AnswerCommand.class,
            BenchCommand.class,
            DemoCommand.class,
            ExperimentCommand.class,
        })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Flags of a closed choice take its labels ("end2end", "rag-token"); anything else is a one-line usage error. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static void registerChoice(CommandLine cl, Class type) {
        cl.registerConverter(type, s -> {
            try {
                return Choice.parse(type, "value", s);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException("expected " + Choice.labels(type) + ", got '" + s + "'");
            }
        });
    }

    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        for (Class<? extends Enum<?>> c : dev.rage2e.train.TrainConfig.CHOICES) registerChoice(cl, c);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Throwable t = ex;
            while (t != null && !(t instanceof UserException)) t = t.getCause();
            if (t != null) {
                System.err.println("rag: " + t.getMessage());
                return 2;
            }
            for (Throwable c = ex; c != null; c = c.getCause()) {
                if (c instanceof java.io.IOException io) {
                    // disk full, file too large, read-only or vanished paths: the environment, not a bug; one line
                    String kind = io.getClass() == java.io.IOException.class
                            ? ""
                            : io.getClass().getSimpleName() + ": ";
                    System.err.println("rag: I/O error: " + kind
                            + String.valueOf(io.getMessage()).replace('\n', ' '));
                    return 4;
                }
            }
            if (ex.getCause() instanceof OutOfMemoryError) {
                System.err.println("rag: out of memory: " + ex.getMessage());
                return 3;
            }
            ex.printStackTrace(System.err);
            return 1;
        });
        return cl.execute(args);
    }
}
