package dev.rage2e.kb;

import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;

/**
 * The embeddings versions of a KB directory: {@code emb-00001/}, {@code emb-00002/}, ... each complete
 * when it appears (built in a temp dir, then renamed under the KB lock), and the {@code current} pointer
 * file naming the published one, replaced by atomic rename. Version numbers only grow (a
 * {@code versions.seq} file remembers the last), so a name never refers to two different contents.
 */
public final class KbVersions {
    public static final String CURRENT = "current";
    private static final String SEQ = "versions.seq";
    private static final String LOCK = ".lock";
    private static final Pattern NAME = Pattern.compile("emb-\\d{5,}");
    private static final ConcurrentHashMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

    private KbVersions() {}

    public static boolean isVersionName(String name) {
        return NAME.matcher(name).matches();
    }

    public static List<String> list(Path kbDir) throws IOException {
        List<String> out = new ArrayList<>();
        try (var s = Files.list(kbDir)) {
            s.map(p -> p.getFileName().toString())
                    .filter(KbVersions::isVersionName)
                    .filter(n -> Files.isRegularFile(kbDir.resolve(n).resolve(Embeddings.META)))
                    .sorted()
                    .forEach(out::add);
        }
        return out;
    }

    /** The published version, if any. */
    public static Optional<String> current(Path kbDir) {
        Path f = kbDir.resolve(CURRENT);
        try {
            if (!Files.exists(f)) return Optional.empty();
            String name = Files.readString(f, StandardCharsets.UTF_8).strip();
            if (!isVersionName(name)) throw new UserException(f + ": not a version name: '" + name + "'");
            return Optional.of(name);
        } catch (IOException e) {
            throw new UserException(f + ": cannot read: " + e.getMessage(), e);
        }
    }

    public static String requireCurrent(Path kbDir) {
        return current(kbDir)
                .orElseThrow(() -> new UserException(kbDir + ": no embeddings published yet (run rag kb encode)"));
    }

    /** A fresh temp directory inside the KB for building a version (or an index) before committing it. */
    public static Path newTempDir(Path parent, String what) throws IOException {
        Path tmp = parent.resolve("." + what + ".tmp-" + UUID.randomUUID());
        Files.createDirectory(tmp);
        return tmp;
    }

    /** Renames a finished temp directory to the next version name and returns that name. */
    public static String commit(Path kbDir, Path tmpDir) throws IOException {
        return withLock(kbDir, () -> {
            long last = 0;
            Path seq = kbDir.resolve(SEQ);
            if (Files.exists(seq)) last = Long.parseLong(Files.readString(seq).strip());
            try (var s = Files.list(kbDir)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    String n = p.getFileName().toString();
                    if (isVersionName(n)) last = Math.max(last, Long.parseLong(n.substring(4)));
                }
            }
            String name = String.format("emb-%05d", last + 1);
            AtomicFiles.writeString(seq, Long.toString(last + 1) + "\n");
            AtomicFiles.fsyncDir(tmpDir);
            Files.move(tmpDir, kbDir.resolve(name), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            AtomicFiles.fsyncDir(kbDir);
            return name;
        });
    }

    /** Makes {@code name} the current version (atomic rename of the pointer file). */
    public static void publish(Path kbDir, String name) throws IOException {
        withLock(kbDir, () -> {
            if (!Files.isRegularFile(kbDir.resolve(name).resolve(Embeddings.META))) {
                throw new UserException(kbDir + ": no complete embeddings version " + name);
            }
            AtomicFiles.writeString(kbDir.resolve(CURRENT), name + "\n");
            return null;
        });
    }

    /**
     * Deletes a version that is not current. Readers in other processes that still have its files
     * mapped keep reading them (POSIX unlink); in-process readers are protected by {@code IndexHolder}.
     */
    public static void delete(Path kbDir, String name) throws IOException {
        withLock(kbDir, () -> {
            if (current(kbDir).filter(name::equals).isPresent())
                throw new UserException(kbDir + ": " + name + " is current; not deleting it");
            Path dir = kbDir.resolve(name);
            if (!Files.exists(dir)) return null;
            Path trash = kbDir.resolve(".trash-" + name + "-" + UUID.randomUUID());
            Files.move(dir, trash, java.nio.file.StandardCopyOption.ATOMIC_MOVE); // never a half-deleted version
            AtomicFiles.deleteTree(trash);
            return null;
        });
    }

    /** Runs {@code body} holding the KB lock: a JVM lock (threads) plus an OS file lock (processes). */
    public static <T> T withLock(Path kbDir, IoCallable<T> body) throws IOException {
        Path key = kbDir.toAbsolutePath().normalize();
        ReentrantLock jvm = JVM_LOCKS.computeIfAbsent(key, k -> new ReentrantLock());
        jvm.lock();
        try (FileChannel ch = FileChannel.open(key.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock ignored = jvm.getHoldCount() == 1 ? ch.lock() : null) {
            return body.call();
        } finally {
            jvm.unlock();
        }
    }

    @FunctionalInterface
    public interface IoCallable<T> {
        T call() throws IOException;
    }
}
