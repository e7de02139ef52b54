package dev.rage2e.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** {@code metrics.jsonl}: one JSON object per event, appended and flushed immediately. Thread-safe. */
public final class MetricsLog {
    private final Path file;

    public MetricsLog(Path file) {
        this.file = file;
    }

    public ObjectNode event(String type) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("event", type);
        o.put("time", System.currentTimeMillis() / 1000.0);
        return o;
    }

    public synchronized void write(ObjectNode o) {
        try {
            Files.writeString(
                    file,
                    Json.write(o) + "\n",
                    StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Drops lines after {@code step} (and any torn last line) when resuming, so the log matches the checkpoint. */
    public synchronized void truncateAfter(int step) throws IOException {
        if (!Files.exists(file)) return;
        StringBuilder kept = new StringBuilder();
        for (String line : Files.readAllLines(file)) {
            try {
                var n = Json.MAPPER.readTree(line);
                if (n.has("step") && n.get("step").asInt() > step) continue;
                kept.append(line).append('\n');
            } catch (IOException e) {
                // a torn line from a crash: drop it
            }
        }
        dev.rage2e.util.AtomicFiles.writeString(file, kept.toString());
    }
}
