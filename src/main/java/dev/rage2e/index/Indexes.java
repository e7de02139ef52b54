package dev.rage2e.index;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Locale;

/**
 * Where indexes live and how they are chosen: an HNSW index is the Lucene directory
 * {@code emb-NNNNN/index-hnsw/} inside the embeddings version it indexes (so it can never be paired
 * with other vectors); the flat index needs no files ({@code index-flat.json} only records that the
 * embeddings were verified). "auto" means HNSW when built, else flat.
 */
public final class Indexes {
    public static final String HNSW_DIR = "index-hnsw";
    public static final String FLAT_META = "index-flat.json";

    private Indexes() {}

    public static String checkType(String type, boolean allowAuto) {
        if (RemoteIndex.isRemote(type)) return type; // ENGINE:TARGET, checked when the engine opens it
        String t = type.toLowerCase(Locale.ROOT);
        if (t.equals("flat") || t.equals("hnsw") || (allowAuto && t.equals("auto"))) return t;
        throw new UserException("unknown index type '" + type + "' (expected flat, hnsw" + (allowAuto ? ", auto" : "")
                + " or ENGINE:TARGET, e.g. solr:http://host:8983/solr)");
    }

    public static boolean hasHnsw(Embeddings emb) {
        return Files.isRegularFile(emb.dir().resolve(HNSW_DIR).resolve(HnswIndex.META));
    }

    public static VectorIndex open(Embeddings emb, String type) throws IOException {
        String t = checkType(type, true);
        if (RemoteIndex.isRemote(t)) return RemoteIndex.engine(t).open(emb, RemoteIndex.target(t));
        if (t.equals("auto")) t = hasHnsw(emb) ? "hnsw" : "flat";
        if (t.equals("flat")) return FlatIndex.load(emb);
        if (!hasHnsw(emb)) throw new UserException(emb.dir() + ": no HNSW index (run rag index build --type hnsw)");
        return HnswIndex.load(emb.dir().resolve(HNSW_DIR), emb);
    }

    /**
     * Builds the index of an embeddings version in a temp dir and renames it into place (replacing an
     * older build of the same type). Returns its metadata.
     */
    public static ObjectNode build(Embeddings emb, String type, HnswIndex.Params params) throws IOException {
        String t = checkType(type, false);
        if (RemoteIndex.isRemote(t)) return RemoteIndex.engine(t).build(emb, RemoteIndex.target(t), params);
        if (t.equals("flat")) {
            long t0 = System.nanoTime();
            emb.verify();
            ObjectNode meta = Json.MAPPER.createObjectNode();
            meta.put("type", "flat");
            meta.put("count", emb.count());
            meta.put("dim", emb.dim());
            meta.put("embeddings_version", emb.version());
            meta.put("embeddings_sha256", emb.sha256());
            meta.put("verified_seconds", Math.round((System.nanoTime() - t0) / 1e6) / 1000.0);
            meta.put("created", Instant.now().toString());
            Json.writeFile(emb.dir().resolve(FLAT_META), meta);
            return meta;
        }
        Path tmp = KbVersions.newTempDir(emb.dir(), HNSW_DIR);
        Path target = emb.dir().resolve(HNSW_DIR);
        try {
            ObjectNode meta;
            try {
                meta = HnswIndex.build(emb, tmp, params);
            } catch (IOException e) {
                throw new IOException(
                        target + ": cannot write the HNSW index (" + e.getMessage() + "); the "
                                + "existing index is unchanged",
                        e);
            }
            try (var s = Files.list(tmp)) {
                for (Path f : (Iterable<Path>) s::iterator) AtomicFiles.fsync(f);
            }
            AtomicFiles.fsyncDir(tmp);
            if (Files.exists(target)) {
                // a directory cannot be atomically replaced: move the old one aside first
                Path old = KbVersions.newTempDir(emb.dir(), HNSW_DIR + "-old");
                Files.move(target, old.resolve("x"));
                Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                AtomicFiles.deleteTree(old);
            } else {
                Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
            AtomicFiles.fsyncDir(emb.dir());
            return meta;
        } finally {
            AtomicFiles.deleteTree(tmp);
        }
    }
}
