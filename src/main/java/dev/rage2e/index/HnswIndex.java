package dev.rage2e.index;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.lucene.codecs.KnnVectorsFormat;
import org.apache.lucene.codecs.lucene912.Lucene912Codec;
import org.apache.lucene.codecs.lucene99.Lucene99HnswVectorsFormat;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;

/**
 * Approximate MIPS with Lucene's HNSW graph ({@link VectorSimilarityFunction#MAXIMUM_INNER_PRODUCT}).
 * Built with one indexing thread per core (one segment each), then force-merged into a single
 * segment, so a search is one graph walk. Saved as a Lucene directory with an {@code index.json}
 * naming the parameters and the embeddings it indexes; loaded without rebuilding. Hits are re-scored
 * with the exact inner product from the embeddings (Lucene reports a transformed score).
 */
public final class HnswIndex implements VectorIndex {
    public static final String META = "index.json";
    static final String FIELD = "vec";
    static final String PID = "pid";

    private final Directory directory;
    private final DirectoryReader reader;
    private final LeafReader leaf;
    private final int[] docToPassage;
    private final Embeddings embeddings;
    private final JsonNode meta;
    private volatile int efSearch;

    private HnswIndex(
            Directory directory, DirectoryReader reader, int[] docToPassage, Embeddings embeddings, JsonNode meta) {
        this.directory = directory;
        this.reader = reader;
        this.leaf = reader.leaves().get(0).reader();
        this.docToPassage = docToPassage;
        this.embeddings = embeddings;
        this.meta = meta;
        this.efSearch = meta.path("ef_search").asInt(100);
    }

    public record Params(int m, int efConstruction, int efSearch, int threads) {
        public Params {
            if (m < 2 || m > Lucene99HnswVectorsFormat.MAXIMUM_MAX_CONN)
                throw new UserException("--m must be in [2, 512], got " + m);
            if (efConstruction < 1 || efConstruction > Lucene99HnswVectorsFormat.MAXIMUM_BEAM_WIDTH) {
                throw new UserException("--ef-construction must be in [1, 3200], got " + efConstruction);
            }
            if (efSearch < 1) throw new UserException("--ef-search must be positive, got " + efSearch);
            if (threads < 1) throw new UserException("threads must be positive, got " + threads);
        }
    }

    /** Builds the index of {@code emb} into {@code dir} (which must not exist) and returns index.json. */
    public static ObjectNode build(Embeddings emb, Path dir, Params p) throws IOException {
        if (emb.dim() > 1024)
            throw new UserException(emb.dir() + ": Lucene HNSW supports at most 1024 dimensions, got " + emb.dim());
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(p.threads());
        try (Directory d = FSDirectory.open(dir)) {
            IndexWriterConfig cfg = new IndexWriterConfig()
                    .setCodec(new Lucene912Codec() {
                        @Override
                        public KnnVectorsFormat getKnnVectorsFormatForField(String field) {
                            return new Lucene99HnswVectorsFormat(
                                    p.m(), p.efConstruction(), p.threads(), p.threads() > 1 ? pool : null);
                        }
                    })
                    .setOpenMode(IndexWriterConfig.OpenMode.CREATE)
                    .setUseCompoundFile(false)
                    .setRAMBufferSizeMB(
                            Math.max(64, 4.0 * emb.count() * (emb.dim() * 4 + 2L * p.m() * 4 + 64) / (1 << 20)))
                    .setRAMPerThreadHardLimitMB(2047)
                    .setCommitOnClose(true);
            try (IndexWriter w = new IndexWriter(d, cfg)) {
                // one contiguous range per thread: each becomes a segment whose graph is built in parallel
                List<Future<?>> jobs = new ArrayList<>();
                int n = emb.count();
                for (int t = 0; t < p.threads(); t++) {
                    int lo = (int) ((long) t * n / p.threads());
                    int hi = (int) ((long) (t + 1) * n / p.threads());
                    jobs.add(pool.submit(() -> {
                        float[] v = new float[emb.dim()];
                        for (int i = lo; i < hi; i++) {
                            emb.rows(i, 1, v, 0);
                            Document doc = new Document();
                            doc.add(new KnnFloatVectorField(
                                    FIELD, v.clone(), VectorSimilarityFunction.MAXIMUM_INNER_PRODUCT));
                            doc.add(new NumericDocValuesField(PID, i));
                            w.addDocument(doc);
                        }
                        return null;
                    }));
                }
                await(jobs);
                w.forceMerge(1); // merges the per-thread graphs with p.threads() merge workers
            }
        } finally {
            pool.shutdownNow();
        }
        ObjectNode meta = Json.MAPPER.createObjectNode();
        meta.put("type", "hnsw");
        meta.put("library", "lucene " + org.apache.lucene.util.Version.LATEST);
        meta.put("similarity", "MAXIMUM_INNER_PRODUCT");
        meta.put("m", p.m());
        meta.put("ef_construction", p.efConstruction());
        meta.put("ef_search", p.efSearch());
        meta.put("threads", p.threads());
        meta.put("count", emb.count());
        meta.put("dim", emb.dim());
        meta.put("embeddings_version", emb.version());
        meta.put("embeddings_sha256", emb.sha256());
        meta.put("build_seconds", Math.round((System.nanoTime() - t0) / 1e6) / 1000.0);
        meta.put("created", Instant.now().toString());
        Json.writeFile(dir.resolve(META), meta);
        return meta;
    }

    private static void await(List<Future<?>> jobs) throws IOException {
        try {
            for (Future<?> f : jobs) f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) throw io;
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new IOException(e.getCause());
        }
    }

    /** Opens a saved index and checks that it indexes exactly {@code emb}. */
    public static HnswIndex load(Path dir, Embeddings emb) throws IOException {
        Path metaFile = dir.resolve(META);
        if (!Files.isRegularFile(metaFile)) throw new UserException(dir + ": not an HNSW index (no " + META + ")");
        JsonNode meta = Json.read(metaFile);
        if (!emb.sha256().equals(meta.path("embeddings_sha256").asText())) {
            throw new UserException(dir + ": index was built for other embeddings "
                    + "(sha " + meta.path("embeddings_sha256").asText()
                    + ") than " + emb.dir() + " (sha " + emb.sha256() + "); rebuild it with rag index build");
        }
        Directory d = FSDirectory.open(dir);
        DirectoryReader r = null;
        try {
            r = DirectoryReader.open(d);
            if (r.leaves().size() != 1 || r.maxDoc() != emb.count() || r.numDocs() != emb.count()) {
                throw new UserException(dir + ": expected one segment with " + emb.count() + " vectors, "
                        + "found " + r.leaves().size()
                        + " segments, " + r.numDocs() + " docs");
            }
            LeafReader leaf = r.leaves().get(0).reader();
            int[] map = new int[r.maxDoc()];
            NumericDocValues pid = leaf.getNumericDocValues(PID);
            for (int doc = 0; doc < map.length; doc++) {
                if (pid == null || !pid.advanceExact(doc))
                    throw new UserException(dir + ": document " + doc + " has no passage id");
                map[doc] = (int) pid.longValue();
            }
            return new HnswIndex(d, r, map, emb, meta);
        } catch (IOException | RuntimeException e) {
            if (r != null) r.close();
            d.close();
            throw e;
        }
    }

    public JsonNode meta() {
        return meta;
    }

    /** Candidate list size of a search (Lucene's k); results are the best {@code k <= efSearch} of it. */
    public void setEfSearch(int ef) {
        if (ef < 1) throw new IllegalArgumentException("efSearch must be positive");
        this.efSearch = ef;
    }

    public int efSearch() {
        return efSearch;
    }

    @Override
    public String type() {
        return "hnsw";
    }

    @Override
    public int dim() {
        return embeddings.dim();
    }

    @Override
    public int size() {
        return docToPassage.length;
    }

    @Override
    public TopK search(float[][] queries, int k) {
        int nq = queries.length;
        int[][] ids = new int[nq][];
        float[][] scores = new float[nq][];
        // graph walks are independent: spread a batch over the cores like FAISS does with OpenMP
        java.util.stream.IntStream.range(0, nq).parallel().forEach(i -> searchOne(queries[i], k, ids, scores, i));
        return new TopK(ids, scores);
    }

    private void searchOne(float[] q, int k, int[][] ids, float[][] scores, int row) {
        if (q.length != dim()) throw new IllegalArgumentException("query has " + q.length + " dims, index " + dim());
        TopDocs td;
        try {
            td = leaf.searchNearestVectors(FIELD, q, Math.max(k, efSearch), null, Integer.MAX_VALUE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ScoreDoc[] hits = td.scoreDocs;
        int[] pid = new int[hits.length];
        for (int j = 0; j < hits.length; j++) pid[j] = docToPassage[hits[j].doc];
        ExactRescore.topK(embeddings, q, pid, k, ids, scores, row);
    }

    @Override
    public void close() {
        try {
            reader.close();
            directory.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
