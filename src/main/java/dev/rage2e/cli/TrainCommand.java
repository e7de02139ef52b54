package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.run.TrainingRun;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code rag train}: original or end-to-end RAG training with checkpoints, metrics and resume. */
@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Train RAG: original (frozen passage encoder) or end2end (passage encoder trained too, KB "
                    + "re-indexed meanwhile).",
            "In end2end mode the KB is re-encoded and re-indexed in the background every --indexing-freq steps. "
                    + "Every config key is also a flag; flags override",
            "--config. Progress goes to stderr, events to RUN_DIR/metrics.jsonl, the final evaluation to stdout."
        })
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--config", description = "YAML file with config keys (same names as the flags).")
    Path config;

    @Option(names = "--out", description = "Run folder (checkpoints, metrics.jsonl, config.yaml).")
    Path out;

    @Option(names = "--resume", description = "Continue the run in this folder from its latest checkpoint.")
    Path resume;

    @Option(names = "--stop-after", hidden = true, description = "Stop after this many optimizer steps (tests).")
    int stopAfter = Integer.MAX_VALUE;

    @Mixin
    TrainConfig flags;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (resume != null && out != null && !resume.equals(out))
            throw new UserException("--resume and --out name different folders");
        Path runDir = resume != null ? resume : out;
        if (runDir == null) throw new UserException("give --out RUN_DIR (or --resume RUN_DIR)");
        TrainConfig cfg;
        if (resume != null) {
            Path saved = resume.resolve("config.yaml");
            if (!Files.exists(saved)) throw new UserException(resume + ": not a run folder (no config.yaml)");
            cfg = TrainConfig.load(saved);
        } else {
            cfg = config != null ? TrainConfig.load(config) : new TrainConfig();
        }
        boolean anyFlag = applyFlags(cfg);
        Path file = resume != null ? resume.resolve("config.yaml") : config;
        cfg.validate(file == null ? "flags" : anyFlag ? file + " (with flags)" : file.toString());
        try (TrainingRun run = TrainingRun.open(cfg, runDir, resume != null)) {
            ObjectNode result = run.run(stopAfter);
            ObjectNode summary = Json.MAPPER.createObjectNode();
            summary.put("run", runDir.toString());
            summary.put("steps", run.trainer().state().step);
            summary.put("train_seconds", run.trainer().state().trainSeconds);
            if (result != null) summary.set("final_eval", result);
            System.out.println(Json.write(summary));
        }
        return 0;
    }

    /** Copies the options given on the command line over the config file's values. */
    private boolean applyFlags(TrainConfig cfg) throws IllegalAccessException {
        boolean any = false;
        for (CommandLine.Model.OptionSpec o :
                spec.commandLine().getParseResult().matchedOptions()) {
            if (o.userObject() instanceof Field f && f.getDeclaringClass() == TrainConfig.class) {
                f.setAccessible(true);
                f.set(cfg, f.get(flags));
                any = true;
            }
        }
        return any;
    }
}
