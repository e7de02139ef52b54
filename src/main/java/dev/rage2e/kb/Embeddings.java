package dev.rage2e.kb;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.util.Fingerprint;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One embeddings version ({@code emb-NNNNN/}): {@code embeddings.f32}, count x dim float32 little-endian
 * row-major (row i = passage i), memory-mapped; {@code meta.json} says who made it (encoder identity),
 * the shape, and the file's sha256. Immutable once committed; thread-safe.
 */
public final class Embeddings {
    public static final String DATA = "embeddings.f32";
    public static final String META = "meta.json";

    private final Path dir;
    private final JsonNode meta;
    private final MappedFile data;
    private final int count;
    private final int dim;

    private Embeddings(Path dir, JsonNode meta, MappedFile data, int count, int dim) {
        this.dir = dir;
        this.meta = meta;
        this.data = data;
        this.count = count;
        this.dim = dim;
    }

    public static Embeddings open(Path dir) {
        Path metaFile = dir.resolve(META);
        if (!Files.isRegularFile(metaFile))
            throw new UserException(dir + ": not an embeddings version (no " + META + ")");
        JsonNode meta = Json.read(metaFile);
        int count = meta.path("count").asInt(-1);
        int dim = meta.path("dim").asInt(-1);
        if (count < 0 || dim <= 0) throw new UserException(metaFile + ": missing count/dim");
        MappedFile data;
        try {
            data = new MappedFile(dir.resolve(DATA));
        } catch (IOException e) {
            throw new UserException(dir.resolve(DATA) + ": cannot open: " + e.getMessage(), e);
        }
        if (data.size() != 4L * count * dim) {
            throw new UserException(
                    dir.resolve(DATA) + ": " + data.size() + " bytes, expected count*dim*4 = " + 4L * count * dim);
        }
        return new Embeddings(dir.toAbsolutePath().normalize(), meta, data, count, dim);
    }

    /** Opens a version of {@code kb} and checks that it was computed from this KB's passages. */
    public static Embeddings open(KnowledgeBase kb, String version) {
        Embeddings e = open(kb.dir().resolve(version));
        String want = kb.passagesSha256();
        String got = e.meta.path("kb_passages_sha256").asText();
        if (!want.equals(got) || e.count != kb.size()) {
            throw new UserException(e.dir + ": embeddings were computed for other passages (" + e.count + " rows, "
                    + "kb sha " + got
                    + ") than " + kb.dir() + " (" + kb.size() + " passages, sha " + want + ")");
        }
        return e;
    }

    public Path dir() {
        return dir;
    }

    public String version() {
        return dir.getFileName().toString();
    }

    public JsonNode meta() {
        return meta;
    }

    public int count() {
        return count;
    }

    public int dim() {
        return dim;
    }

    public String sha256() {
        return meta.path("sha256").asText();
    }

    public float[] row(int i) {
        float[] v = new float[dim];
        rows(i, 1, v, 0);
        return v;
    }

    /** Copies {@code n} rows starting at row {@code first} into {@code dst[off...]}. */
    public void rows(int first, int n, float[] dst, int off) {
        data.readFloats(4L * first * dim, dst, off, n * dim);
    }

    /** Recomputes the data file's sha256 (reads the whole file) and compares it with meta.json. */
    public void verify() throws IOException {
        String actual = Fingerprint.sha256(dir.resolve(DATA));
        if (!actual.equals(sha256()))
            throw new UserException(dir.resolve(DATA) + ": sha256 " + actual + " differs from meta.json's " + sha256());
    }
}
