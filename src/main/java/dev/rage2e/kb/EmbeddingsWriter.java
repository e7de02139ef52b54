package dev.rage2e.kb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Fingerprint;
import dev.rage2e.util.Json;
import dev.rage2e.util.RateProgress;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Encodes a KB's passages into a new embeddings version. The text fed to the encoder is
 * {@code passage_prefix + "{title} {text}"}, truncated to {@code maxLen} tokens. Passages are taken in
 * chunks, length-sorted into batches inside each chunk (little padding), and appended to the float32
 * file while its sha256 is computed. Nothing is published: the caller decides (see {@link KbVersions#publish}).
 *
 * <p>Sharding: shard i of n encodes passages [i*N/n, (i+1)*N/n) into {@code shards-KEY-of-n/} (KEY
 * identifies encoder + settings); whichever shard completes the set merges them, in order, into a new
 * version and removes the shard files.
 */
public final class EmbeddingsWriter {
    /** Passages tokenised and length-sorted together; bounds memory on big KBs. */
    static final int CHUNK = 8192;

    private EmbeddingsWriter() {}

    public record Options(int batch, int maxLen, int shardIndex, int shardCount, PrintStream progress) {
        public Options {
            if (batch <= 0) throw new UserException("--batch must be positive, got " + batch);
            if (maxLen <= 1) throw new UserException("--max-len must be at least 2, got " + maxLen);
            if (shardCount <= 0 || shardIndex < 0 || shardIndex >= shardCount) {
                throw new UserException("--shard must be i/n with 0 <= i < n, got " + shardIndex + "/" + shardCount);
            }
        }

        public static Options defaults() {
            return new Options(32, 256, 0, 1, System.err);
        }

        public Options withProgress(PrintStream p) {
            return new Options(batch, maxLen, shardIndex, shardCount, p);
        }
    }

    /** What happened: the new version's name, or null when this shard waits for the others. */
    public record Result(String version, int passagesEncoded, double seconds, Path shardFile) {
        public double passagesPerSecond() {
            return passagesEncoded / Math.max(1e-9, seconds);
        }
    }

    public static Result encode(KnowledgeBase kb, EncoderModel enc, EncoderIdentity identity, Options opt)
            throws IOException {
        return encode(kb, enc, identity, opt, true);
    }

    /**
     * Shard {@code opt.shardIndex()} of {@code opt.shardCount()} only, never merged here (a distributed encoder's
     * worker: its driver merges once every shard is in, so a retried or
     * speculative task cannot merge a second version).
     */
    public static Result encodeShard(KnowledgeBase kb, EncoderModel enc, EncoderIdentity identity, Options opt)
            throws IOException {
        if (opt.shardCount() < 2) throw new IllegalArgumentException("encodeShard needs shardCount >= 2");
        return encode(kb, enc, identity, opt, false);
    }

    /** Where the shards of this encoder and settings are collected ({@code shards-KEY-of-n/} in the KB folder). */
    public static Path shardDir(KnowledgeBase kb, EncoderIdentity identity, Options opt) {
        return kb.dir().resolve("shards-" + shardKey(identity, opt) + "-of-" + opt.shardCount());
    }

    private static Result encode(
            KnowledgeBase kb, EncoderModel enc, EncoderIdentity identity, Options opt, boolean merge)
            throws IOException {
        int n = kb.size();
        int lo = (int) ((long) opt.shardIndex() * n / opt.shardCount());
        int hi = (int) ((long) (opt.shardIndex() + 1) * n / opt.shardCount());
        Path tmpDir = KbVersions.newTempDir(kb.dir(), "emb");
        try {
            Path data = tmpDir.resolve(Embeddings.DATA);
            long t0 = System.nanoTime();
            String sha;
            try {
                sha = encodeRange(kb, enc, opt, lo, hi, data);
            } catch (IOException e) {
                throw new IOException(
                        kb.dir() + ": cannot write a new embeddings version (" + e.getMessage()
                                + "); the published version is unchanged",
                        e);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            ObjectNode meta = meta(kb, enc, identity, opt, hi - lo, sha, seconds);
            if (opt.shardCount() == 1) {
                Json.writeFile(tmpDir.resolve(Embeddings.META), meta);
                String version = KbVersions.commit(kb.dir(), tmpDir);
                return new Result(version, hi - lo, seconds, null);
            }
            meta.put("shard", opt.shardIndex());
            meta.put("shards", opt.shardCount());
            meta.put("first_passage_id", lo);
            Path shardDir = shardDir(kb, identity, opt);
            Files.createDirectories(shardDir);
            String stem = String.format("shard-%05d", opt.shardIndex());
            AtomicFiles.fsync(data);
            AtomicFiles.move(data, shardDir.resolve(stem + ".f32"));
            Json.writeFile(shardDir.resolve(stem + ".json"), meta); // written last: marks the shard complete
            String version = merge ? mergeIfComplete(kb, shardDir, opt.shardCount()) : null;
            return new Result(version, hi - lo, seconds, shardDir.resolve(stem + ".f32"));
        } finally {
            AtomicFiles.deleteTree(tmpDir);
        }
    }

    private static String shardKey(EncoderIdentity identity, Options opt) {
        return Fingerprint.sha256Hex(Json.write(identity.toJson()) + "|max_len=" + opt.maxLen())
                .substring(0, 16);
    }

    private static String encodeRange(KnowledgeBase kb, EncoderModel enc, Options opt, int lo, int hi, Path out)
            throws IOException {
        MessageDigest sha = Fingerprint.sha256();
        RateProgress progress = new RateProgress("encode", "passages", hi - lo, opt.progress());
        int dim = enc.dim();
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (int start = lo; start < hi; start += CHUNK) {
                int end = Math.min(hi, start + CHUNK);
                List<String> texts = new ArrayList<>(end - start);
                for (int id = start; id < end; id++) texts.add(kb.passage(id).encoderInput());
                long[][] ids = enc.tokenize(texts, false, opt.maxLen());
                final int done = start - lo;
                float[][] vecs = enc.encodeIds(ids, opt.batch(), (d, t) -> progress.update(done + d));
                ByteBuffer buf = ByteBuffer.allocate(vecs.length * dim * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float[] v : vecs) {
                    if (v.length != dim)
                        throw new IllegalStateException("encoder returned " + v.length + " dims, expected " + dim);
                    for (float x : v) {
                        if (!Float.isFinite(x)) throw new IllegalStateException("encoder produced a non-finite value");
                        buf.putFloat(x);
                    }
                }
                buf.flip();
                sha.update(buf.duplicate());
                while (buf.hasRemaining()) ch.write(buf);
            }
            ch.force(true);
        }
        progress.finish(hi - lo);
        return HexFormat.of().formatHex(sha.digest());
    }

    private static ObjectNode meta(
            KnowledgeBase kb,
            EncoderModel enc,
            EncoderIdentity identity,
            Options opt,
            int count,
            String sha,
            double seconds) {
        ObjectNode m = Json.MAPPER.createObjectNode();
        m.put("format", "rag-e2e-embeddings");
        m.put("count", count);
        m.put("dim", enc.dim());
        m.put("dtype", "float32");
        m.put("byte_order", "little");
        m.put("layout", "row-major, row i = passage i");
        m.put("sha256", sha);
        m.put("kb_passages_sha256", kb.passagesSha256());
        m.set("encoder", identity.toJson());
        m.put("passage_text", enc.settings.passagePrefix() + "{title} {text}");
        m.put("max_length", Math.min(opt.maxLen(), enc.config.maxPositionEmbeddings()));
        m.put("batch", opt.batch());
        m.put("seconds", Math.round(seconds * 1000) / 1000.0);
        m.put("passages_per_s", Math.round(count / Math.max(1e-9, seconds) * 10) / 10.0);
        m.put("created", Instant.now().toString());
        return m;
    }

    /** Merges a complete set of shards into a new version (under the KB lock); null if incomplete or already merged. */
    public static String mergeIfComplete(KnowledgeBase kb, Path shardDir, int shards) throws IOException {
        return KbVersions.withLock(kb.dir(), () -> {
            if (!Files.isDirectory(shardDir)) return null; // merged by another process
            List<JsonNode> metas = new ArrayList<>();
            for (int i = 0; i < shards; i++) {
                Path m = shardDir.resolve(String.format("shard-%05d.json", i));
                if (!Files.exists(m)) return null;
                metas.add(Json.read(m));
            }
            Path tmpDir = KbVersions.newTempDir(kb.dir(), "emb");
            try {
                MessageDigest sha = Fingerprint.sha256();
                long count = 0;
                double seconds = 0;
                try (FileChannel out = FileChannel.open(
                        tmpDir.resolve(Embeddings.DATA), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    for (int i = 0; i < shards; i++) {
                        JsonNode m = metas.get(i);
                        if (m.path("first_passage_id").asLong() != count) {
                            throw new UserException(shardDir + ": shard " + i + " starts at "
                                    + "passage " + m.path("first_passage_id")
                                    + ", expected " + count);
                        }
                        Path f = shardDir.resolve(String.format("shard-%05d.f32", i));
                        try (FileChannel in = FileChannel.open(f, StandardOpenOption.READ)) {
                            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
                            while (in.read(buf) > 0) {
                                buf.flip();
                                sha.update(buf.duplicate());
                                while (buf.hasRemaining()) out.write(buf);
                                buf.clear();
                            }
                        }
                        count += m.path("count").asLong();
                        seconds += m.path("seconds").asDouble();
                    }
                    out.force(true);
                }
                if (count != kb.size())
                    throw new UserException(shardDir + ": shards hold " + count + " rows, the KB " + kb.size());
                ObjectNode meta = (ObjectNode) metas.get(0).deepCopy();
                meta.remove(List.of("shard", "first_passage_id"));
                meta.put("count", count);
                meta.put("sha256", HexFormat.of().formatHex(sha.digest()));
                meta.put("shards", shards);
                meta.put("seconds", Math.round(seconds * 1000) / 1000.0);
                meta.put("passages_per_s", Math.round(count / Math.max(1e-9, seconds) * 10) / 10.0);
                Json.writeFile(tmpDir.resolve(Embeddings.META), meta);
                String version = KbVersions.commit(kb.dir(), tmpDir);
                AtomicFiles.deleteTree(shardDir);
                return version;
            } finally {
                AtomicFiles.deleteTree(tmpDir);
            }
        });
    }

    /**
     * Writes vectors that were computed elsewhere (benchmarks, tests, imports) as an embeddings
     * directory: {@code dir/embeddings.f32} and {@code meta.json} = {@code extra} + shape + sha256.
     */
    public static void writeRaw(
            Path dir, int count, int dim, java.util.function.IntFunction<float[]> row, ObjectNode extra)
            throws IOException {
        Files.createDirectories(dir);
        MessageDigest sha = Fingerprint.sha256();
        try (FileChannel ch = FileChannel.open(
                dir.resolve(Embeddings.DATA),
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.allocate(dim * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < count; i++) {
                float[] v = row.apply(i);
                if (v.length != dim)
                    throw new IllegalArgumentException("row " + i + " has " + v.length + " dims, expected " + dim);
                buf.clear();
                for (float x : v) buf.putFloat(x);
                buf.flip();
                sha.update(buf.duplicate());
                while (buf.hasRemaining()) ch.write(buf);
            }
            ch.force(true);
        }
        ObjectNode m = Json.MAPPER.createObjectNode();
        m.put("format", "rag-e2e-embeddings");
        m.put("count", count);
        m.put("dim", dim);
        m.put("dtype", "float32");
        m.put("byte_order", "little");
        m.put("sha256", HexFormat.of().formatHex(sha.digest()));
        if (extra != null) extra.fields().forEachRemaining(e -> m.set(e.getKey(), e.getValue()));
        Json.writeFile(dir.resolve(Embeddings.META), m);
    }

    /** Writes vectors for {@code kb}'s passages as a new (unpublished) version and returns its name. */
    public static String writeVersion(KnowledgeBase kb, float[][] rows, ObjectNode encoder) throws IOException {
        if (rows.length != kb.size())
            throw new IllegalArgumentException(rows.length + " rows for " + kb.size() + " passages");
        Path tmp = KbVersions.newTempDir(kb.dir(), "emb");
        try {
            ObjectNode extra = Json.MAPPER.createObjectNode();
            extra.put("kb_passages_sha256", kb.passagesSha256());
            if (encoder != null) extra.set("encoder", encoder);
            writeRaw(tmp, rows.length, rows.length == 0 ? 0 : rows[0].length, i -> rows[i], extra);
            return KbVersions.commit(kb.dir(), tmp);
        } finally {
            AtomicFiles.deleteTree(tmp);
        }
    }
}
