package dev.rage2e.index;

import dev.rage2e.kb.KbVersions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The KB's file work that must not happen on the training thread: moving the {@code current} pointer
 * (which takes the KB lock a refresher's commit also holds) and deleting replaced versions
 * ({@code rm -rf} under that lock). One background thread does both, in submission order, so a
 * version is never deleted before the pointer has moved past it. A failure is reported through
 * {@code onError} and never thrown into a reader.
 *
 * <p>Deletion candidates are versions readers stopped using (and whatever the owner adds); one is
 * deleted only when it is not current on disk, not open in this process and not kept by
 * {@code keep} (the trainer keeps every version a kept checkpoint names).
 */
public final class KbJanitor implements AutoCloseable {
    private final Path kbDir;
    private final Predicate<String> keep;
    private final Supplier<Set<String>> open;
    private final Consumer<String> onError;
    private volatile VersionDeletion alsoDelete = v -> {};
    private final Set<String> candidates = ConcurrentHashMap.newKeySet();
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "kb-janitor");
        t.setDaemon(true);
        return t;
    });

    public KbJanitor(Path kbDir, Predicate<String> keep, Supplier<Set<String>> open, Consumer<String> onError) {
        this.kbDir = kbDir;
        this.keep = keep;
        this.open = open;
        this.onError = onError;
    }

    /** What else goes with a deleted version (its search-cluster collection); run before the local files go. */
    public interface VersionDeletion {
        void delete(String version) throws IOException;
    }

    /**
     * Deletes {@code d}'s part of a version before the version's local files (so a failure leaves both, and the next
     * collection retries).
     */
    public KbJanitor alsoDelete(VersionDeletion d) {
        this.alsoDelete = d;
        return this;
    }

    /** Writes {@code current} = version (in order with earlier calls), then collects. */
    public void publish(String version) {
        submit(() -> {
            KbVersions.publish(kbDir, version);
            collectNow();
        });
    }

    /** Adds deletion candidates and collects. */
    public void candidates(java.util.Collection<String> versions) {
        candidates.addAll(versions);
        collect();
    }

    /** Deletes every candidate nothing needs any more (in the background). */
    public void collect() {
        submit(this::collectNow);
    }

    /** Waits until everything submitted so far is done. */
    public void flush() {
        Future<?> f = thread.submit(() -> {});
        try {
            f.get(5, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            onError.accept("kb janitor: " + e);
        }
    }

    private void collectNow() throws IOException {
        String current = KbVersions.current(kbDir).orElse(null);
        Set<String> inUse = open.get();
        for (String v : Set.copyOf(candidates)) {
            if (v.equals(current) || inUse.contains(v) || keep.test(v)) continue;
            if (java.nio.file.Files.isDirectory(kbDir.resolve(v))) alsoDelete.delete(v);
            KbVersions.delete(kbDir, v);
            candidates.remove(v);
        }
    }

    private interface IoTask {
        void run() throws IOException;
    }

    private void submit(IoTask task) {
        thread.submit(() -> {
            try {
                task.run();
            } catch (IOException | RuntimeException e) {
                onError.accept(kbDir + ": " + e.getMessage());
            }
        });
    }

    @Override
    public void close() {
        flush();
        thread.shutdown();
    }
}
