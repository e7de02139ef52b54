package dev.rage2e.serve;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Polls for a newer checkpoint (the run folder's {@code latest}) or embeddings version (the KB's
 * {@code current}) every few seconds on one background thread and swaps it in through
 * {@link QaBackend#reload()}. A failed load (say, a checkpoint deleted by the trainer's cleanup while
 * being read) keeps the served model and is retried at the next tick.
 */
public final class ReloadWatcher implements AutoCloseable {
    private final ScheduledExecutorService timer;

    public ReloadWatcher(QaBackend backend, double intervalSeconds, Consumer<String> log) {
        if (!(intervalSeconds > 0)) throw new IllegalArgumentException("watch interval must be positive");
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "rag-serve-watch");
            t.setDaemon(true);
            return t;
        });
        long ms = Math.max(1, Math.round(intervalSeconds * 1000));
        timer.scheduleWithFixedDelay(
                () -> {
                    try {
                        ObjectNode o = backend.reload();
                        if (o.path("checkpoint_changed").asBoolean()
                                || o.path("embeddings_changed").asBoolean()) {
                            ObjectNode e = Json.MAPPER.createObjectNode();
                            e.put("event", "reloaded");
                            e.setAll(o);
                            log.accept(Json.write(e));
                        }
                    } catch (RuntimeException ex) {
                        log.accept("rag serve: reload failed (keeping the served model): " + ex.getMessage());
                    }
                },
                ms,
                ms,
                TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        timer.shutdownNow();
        try {
            timer.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
