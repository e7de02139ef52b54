package dev.rage2e.train;

import ai.djl.ndarray.NDManager;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.rag.RagModel;
import dev.rage2e.rag.RagSettings;
import dev.rage2e.rag.Readers;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loads a trained RAG model from a checkpoint folder or a run folder (its latest checkpoint). */
public final class RagCheckpoint {
    private RagCheckpoint() {}

    public record Loaded(Path dir, RagModel model, TrainConfig config, TrainerState state) {}

    public static Loaded load(Path dirOrRun, NDManager manager) {
        Path dir = Checkpoints.resolve(dirOrRun);
        TrainerState state = Checkpoints.readState(dir);
        TrainConfig cfg = TrainConfig.load(dir.resolve("config.yaml"));
        EncoderModel q = null, c = null;
        AutoCloseable g = null;
        try {
            q = EncoderModel.load(dir.resolve("question_encoder"), manager);
            if (Files.isDirectory(dir.resolve("context_encoder")))
                c = EncoderModel.load(dir.resolve("context_encoder"), manager);
            g = Readers.load(dir.resolve("generator"), manager);
            // checkpoints from before the setting scored q·d unscaled
            if (cfg.docScoreScale == null) cfg.docScoreScale = 1f;
            RagSettings s = cfg.ragSettings(q.settings.normalize());
            // serving retrieves from the stored index; passages are not re-embedded per request
            RagSettings serving = s.forServing();
            return new Loaded(dir, RagModel.of(q, c, g, serving), cfg, state);
        } catch (RuntimeException e) {
            if (q != null) q.close();
            if (c != null) c.close();
            if (g != null) {
                try {
                    g.close();
                } catch (Exception ignored) {
                    // closing native memory does not fail in practice; the load error is what matters
                }
            }
            if (e instanceof UserException) throw e;
            throw new UserException(dir + ": cannot load checkpoint: " + e.getMessage(), e);
        }
    }
}
