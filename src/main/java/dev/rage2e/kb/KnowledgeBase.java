package dev.rage2e.kb;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An opened knowledge base directory: {@code manifest.json}, the memory-mapped passage store, and
 * its embeddings versions ({@code emb-NNNNN/}, see {@link KbVersions}). Thread-safe for reading.
 */
public final class KnowledgeBase {
    public static final String MANIFEST = "manifest.json";

    private final Path dir;
    private final JsonNode manifest;
    private final PassageStore passages;

    private KnowledgeBase(Path dir, JsonNode manifest, PassageStore passages) {
        this.dir = dir;
        this.manifest = manifest;
        this.passages = passages;
    }

    public static KnowledgeBase open(Path dir) {
        Path m = dir.resolve(MANIFEST);
        if (!Files.isDirectory(dir))
            throw new UserException(dir + ": knowledge base directory not found (create it with rag kb build)");
        if (!Files.isRegularFile(m)) throw new UserException(dir + ": not a knowledge base (no " + MANIFEST + ")");
        JsonNode manifest = Json.read(m);
        if (!"rag-e2e-kb".equals(manifest.path("format").asText()))
            throw new UserException(m + ": not a rag-e2e KB manifest");
        PassageStore store;
        try {
            store = PassageStore.open(dir);
        } catch (IOException | IllegalStateException e) {
            throw new UserException(dir + ": cannot open passages: " + e.getMessage(), e);
        }
        if (store.size() != manifest.path("passages").asLong()) {
            throw new UserException(dir + ": passage store has " + store.size() + " passages, manifest says "
                    + manifest.path("passages"));
        }
        return new KnowledgeBase(dir.toAbsolutePath().normalize(), manifest, store);
    }

    public Path dir() {
        return dir;
    }

    public JsonNode manifest() {
        return manifest;
    }

    public int size() {
        return passages.size();
    }

    public Passage passage(int id) {
        return passages.get(id);
    }

    /** Identity of the passage contents; embeddings record it so they cannot be paired with another KB. */
    public String passagesSha256() {
        return manifest.path("passages_sha256").asText();
    }
}
