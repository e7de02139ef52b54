package dev.rage2e.train.refresh;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.train.Checkpoints;
import dev.rage2e.util.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Which KB embeddings versions a training run needs and which it made. A checkpoint can only be
 * resumed exactly on the version it names, so every version a kept checkpoint names is kept; the
 * refresher labels the versions it makes with the run folder, so a resumed run can also clean up what
 * a killed one left (a built but unpublished version, one published after the last checkpoint).
 */
public final class RunVersions {
    private RunVersions() {}

    /** The suffix of the encoder label of versions made by this run's refresher. */
    public static String ownerTag(Path runDir) {
        return " of " + runDir.toAbsolutePath().normalize();
    }

    /** Versions named by the run's complete checkpoints. */
    public static Set<String> namedByCheckpoints(Path runDir) {
        Set<String> out = new LinkedHashSet<>();
        if (!Files.isDirectory(runDir)) return out;
        try (Stream<Path> s = Files.list(runDir)) {
            for (Path cp : s.toList()) {
                if (!cp.getFileName().toString().startsWith("checkpoint-")) continue;
                Path st = cp.resolve(Checkpoints.STATE);
                if (!Files.isRegularFile(st)) continue;
                try {
                    String v = Checkpoints.readState(cp).embeddingsVersion;
                    if (v != null) out.add(v);
                } catch (RuntimeException ignored) {
                    // a checkpoint being pruned right now
                }
            }
        } catch (IOException ignored) {
            // unreadable run folder: keep nothing extra (the caller keeps current and open versions anyway)
        }
        return out;
    }

    /**
     * Versions this run may delete once nothing needs them: those its checkpoints name and those its refresher made.
     */
    public static Set<String> owned(Path kbDir, Path runDir) throws IOException {
        Set<String> out = new LinkedHashSet<>(namedByCheckpoints(runDir));
        String tag = ownerTag(runDir);
        for (String v : KbVersions.list(kbDir)) {
            try {
                JsonNode meta = Json.read(kbDir.resolve(v).resolve(Embeddings.META));
                if (meta.path("encoder").path("label").asText("").endsWith(tag)) out.add(v);
            } catch (RuntimeException ignored) {
                // not ours to judge
            }
        }
        return out;
    }
}
