package dev.rage2e.train;

import dev.rage2e.rag.RagModel;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Run folder layout: {@code checkpoint-NNNNNN/} with HF-layout sub-folders {@code question_encoder/},
 * {@code context_encoder/} (end-to-end), {@code generator/}, plus {@code optimizer.safetensors} and
 * {@code trainer_state.json}; a {@code latest} pointer file. A checkpoint is written into a hidden
 * temp folder and renamed into place, then {@code latest} is replaced by atomic rename, so a crash at
 * any point leaves the previous checkpoint usable and at worst a temp folder that the next start removes.
 */
public final class Checkpoints {
    public static final String LATEST = "latest";
    public static final String STATE = "trainer_state.json";
    public static final String OPTIMIZER = "optimizer.safetensors";

    private Checkpoints() {}

    public static String name(int step) {
        return String.format("checkpoint-%06d", step);
    }

    public static Path save(
            Path runDir, int step, RagModel rag, Map<String, AdamW> optimizers, TrainerState state, TrainConfig cfg)
            throws IOException {
        return save(runDir, step, rag, optimizers, state, cfg, tmp -> {});
    }

    /** Writes more files into the checkpoint before it is renamed into place. */
    public interface Extras {
        void write(Path tmpDir) throws IOException;
    }

    /** As above; {@code extras} adds files (e.g. the weights of a refresh in flight) to the temp folder first. */
    public static Path save(
            Path runDir,
            int step,
            RagModel rag,
            Map<String, AdamW> optimizers,
            TrainerState state,
            TrainConfig cfg,
            Extras extras)
            throws IOException {
        Files.createDirectories(runDir);
        Path tmp = runDir.resolve(".tmp-" + name(step) + "-" + UUID.randomUUID());
        try {
            Files.createDirectories(tmp);
            rag.questionEncoder.save(tmp.resolve("question_encoder"));
            if (rag.contextEncoder != null && rag.settings.end2end())
                rag.contextEncoder.save(tmp.resolve("context_encoder"));
            rag.saveReader(tmp.resolve("generator"));
            Map<String, HostTensor> opt = new LinkedHashMap<>();
            for (Map.Entry<String, AdamW> e : optimizers.entrySet()) {
                e.getValue().state().forEach((k, v) -> opt.put(e.getKey() + "/" + k, v));
            }
            Safetensors.write(tmp.resolve(OPTIMIZER), opt, Map.of("format", "rag-e2e-optimizer"));
            cfg.save(tmp.resolve("config.yaml"));
            extras.write(tmp);
            Json.writeFile(tmp.resolve(STATE), state);
            Path target = runDir.resolve(name(step));
            if (Files.exists(target)) AtomicFiles.deleteTree(target); // a re-run of the same step after resume
            AtomicFiles.move(tmp, target);
            AtomicFiles.fsyncDir(runDir);
            AtomicFiles.writeString(runDir.resolve(LATEST), name(step) + "\n");
            return target;
        } catch (IOException e) {
            AtomicFiles.deleteTree(tmp);
            Path prev = latestOrNull(runDir);
            throw new IOException(
                    runDir.resolve(name(step)) + ": cannot write checkpoint (" + describe(e) + "); "
                            + (prev == null
                                    ? "no earlier checkpoint"
                                    : "the previous checkpoint " + prev.getFileName() + " is unchanged"),
                    e);
        } catch (RuntimeException e) {
            AtomicFiles.deleteTree(tmp);
            throw e;
        }
    }

    /** An I/O error's message with the file it concerns (a FileSystemException's message is often only the path). */
    public static String describe(IOException e) {
        String m = String.valueOf(e.getMessage());
        return e instanceof java.nio.file.FileSystemException f && f.getReason() == null
                ? e.getClass().getSimpleName() + " " + m
                : m;
    }

    /** A run folder (its latest checkpoint) or one checkpoint folder. */
    public static Path resolve(Path dir) {
        if (Files.isRegularFile(dir.resolve(STATE))) return dir;
        Path latest = dir.resolve(LATEST);
        if (Files.isRegularFile(latest)) {
            try {
                Path cp = dir.resolve(Files.readString(latest).trim());
                if (Files.isRegularFile(cp.resolve(STATE))) return cp;
                throw new UserException(latest + ": points to " + cp + " which is not a complete checkpoint");
            } catch (IOException e) {
                throw new UserException(latest + ": cannot read: " + e.getMessage());
            }
        }
        throw new UserException(
                dir + ": neither a checkpoint folder (no " + STATE + ") nor a run folder (no " + LATEST + ")");
    }

    /** The latest complete checkpoint of a run, or null for a fresh run. */
    public static Path latestOrNull(Path runDir) {
        return Files.isRegularFile(runDir.resolve(LATEST)) ? resolve(runDir) : null;
    }

    public static TrainerState readState(Path checkpoint) {
        return Json.read(checkpoint.resolve(STATE), TrainerState.class);
    }

    public static void loadOptimizers(Path checkpoint, Map<String, AdamW> optimizers) {
        Path f = checkpoint.resolve(OPTIMIZER);
        Map<String, HostTensor> all = Safetensors.read(f);
        for (Map.Entry<String, AdamW> e : optimizers.entrySet()) {
            Map<String, HostTensor> mine = new LinkedHashMap<>();
            String p = e.getKey() + "/";
            all.forEach((k, v) -> {
                if (k.startsWith(p)) mine.put(k.substring(p.length()), v);
            });
            e.getValue().loadState(mine, f + " [" + e.getKey() + "]");
        }
    }

    /** Removes temp folders left by a crash and all but the newest {@code keep} checkpoints. */
    public static void cleanup(Path runDir, int keep) throws IOException {
        cleanup(runDir, keep, null);
    }

    /**
     * As {@link #cleanup(Path, int)} but never deletes {@code inUse}: the checkpoint a resumed run loaded
     * its models from, whose tokenizer and config files later saves and the KB refresher still read.
     */
    public static void cleanup(Path runDir, int keep, Path inUse) throws IOException {
        if (!Files.isDirectory(runDir)) return;
        List<Path> cps = new ArrayList<>();
        try (Stream<Path> s = Files.list(runDir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                // a checkpoint's temp folder, or the temp file of an atomic write (latest, config.yaml) a kill left
                if (n.startsWith(".tmp-") || AtomicFiles.isTemp(n)) AtomicFiles.deleteTree(p);
                else if (n.startsWith("checkpoint-") && Files.isDirectory(p)) cps.add(p);
            }
        }
        cps.sort(null);
        Path latest = latestOrNull(runDir);
        for (int i = 0; i < cps.size() - keep; i++) {
            Path cp = cps.get(i);
            if (!cp.equals(latest)
                    && (inUse == null
                            || !cp.toAbsolutePath()
                                    .normalize()
                                    .equals(inUse.toAbsolutePath().normalize()))) {
                AtomicFiles.deleteTree(cp);
            }
        }
    }
}
