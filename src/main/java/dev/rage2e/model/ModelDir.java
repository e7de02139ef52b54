package dev.rage2e.model;

import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.UUID;

/** Writing a whole model directory crash-safely: fill a temporary sibling, then rename it into place. */
public final class ModelDir {
    private ModelDir() {}

    @FunctionalInterface
    public interface Filler {
        void fill(Path dir) throws IOException;
    }

    /**
     * Writes {@code dir} by letting {@code filler} populate a fresh temporary sibling and renaming it over
     * {@code dir}; an existing {@code dir} is replaced only after the new one is complete. A crash leaves
     * either the old directory or the new one (plus, at worst, a stray temporary sibling).
     */
    public static void write(Path dir, Filler filler) throws IOException {
        Path abs = dir.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        Files.createDirectories(parent);
        Path tmp = parent.resolve("." + abs.getFileName() + ".tmp-" + UUID.randomUUID());
        Path old = parent.resolve("." + abs.getFileName() + ".old-" + UUID.randomUUID());
        Files.createDirectory(tmp);
        try {
            filler.fill(tmp);
            AtomicFiles.fsyncDir(tmp);
            if (Files.exists(abs)) {
                if (!Files.isDirectory(abs)) throw new UserException(abs + ": exists and is not a directory");
                Files.move(abs, old, StandardCopyOption.ATOMIC_MOVE);
            }
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
            AtomicFiles.fsyncDir(parent);
        } catch (IOException | RuntimeException e) {
            AtomicFiles.deleteTree(tmp);
            if (Files.exists(old) && !Files.exists(abs)) Files.move(old, abs, StandardCopyOption.ATOMIC_MOVE);
            throw e;
        }
        AtomicFiles.deleteTree(old);
    }

    /** Copies a tokenizer file into a directory being filled (no-op when {@code source} is null). */
    public static void copyIfPresent(Path source, Path targetDir) throws IOException {
        if (source == null || !Files.exists(source)) return;
        Files.copy(source, targetDir.resolve(source.getFileName()), StandardCopyOption.REPLACE_EXISTING);
    }
}
