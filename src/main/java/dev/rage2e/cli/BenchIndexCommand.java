package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.index.FlatIndex;
import dev.rage2e.index.HnswIndex;
import dev.rage2e.index.TopK;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.kb.MappedFile;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code rag bench index}: flat vs HNSW on a KB's embeddings or on synthetic unit vectors. Queries are
 * given ({@code --queries}, float32 rows) or, for a KB, every (count / num-queries)-th embedding row;
 * for synthetic data, separate random unit vectors saved next to the data, so that
 * {@code bench/faiss_bench.py} measures FAISS on exactly the same vectors.
 */
@Command(
        name = "index",
        mixinStandardHelpOptions = true,
        description = "Measure flat (exact) and HNSW indexes: build seconds, queries/s at k for batches, HNSW recall@k "
                + "against exact. Prints JSON.")
public final class BenchIndexCommand implements Callable<Integer> {
    @Option(names = "--kb", description = "Knowledge base directory (its current embeddings, or --version).")
    Path kb;

    @Option(
            names = "--embeddings-version",
            description = "Embeddings version, e.g. emb-00003 (--version is the program's version) (default: current).")
    String version;

    @Option(names = "--synthetic", description = "Instead of a KB: this many random unit vectors (written to --out).")
    Integer synthetic;

    @Option(
            names = "--dim",
            defaultValue = "384",
            description = "Dimension of synthetic vectors (default ${DEFAULT-VALUE}).")
    int dim;

    @Option(names = "--out", description = "Folder for synthetic embeddings.f32 / queries.f32 (reused when present).")
    Path out;

    @Option(
            names = "--queries",
            description = "Query vectors, float32 little-endian rows of the embeddings' dimension.")
    Path queriesFile;

    @Option(
            names = "--num-queries",
            defaultValue = "1024",
            description = "Queries when none are given (default ${DEFAULT-VALUE}).")
    int numQueries;

    @Option(names = "-k", defaultValue = "20", description = "Neighbours per query (default ${DEFAULT-VALUE}).")
    int k;

    @Option(names = "--batch", defaultValue = "64", description = "Queries per search call (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--m", defaultValue = "32", description = "HNSW M (default ${DEFAULT-VALUE}).")
    int m;

    @Option(
            names = "--ef-construction",
            defaultValue = "100",
            description = "HNSW efConstruction (default ${DEFAULT-VALUE}).")
    int efConstruction;

    @Option(
            names = "--ef-search",
            split = ",",
            defaultValue = "20,40,100,200",
            description = "HNSW candidate lists to measure.")
    int[] efSearch;

    @Option(names = "--threads", description = "HNSW build threads (default: available processors).")
    Integer threads;

    @Option(
            names = "--repeat",
            defaultValue = "3",
            description = "Timed passes over the queries; the best is reported.")
    int repeat;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of synthetic data (default ${DEFAULT-VALUE}).")
    long seed;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        if ((kb == null) == (synthetic == null)) throw new UserException("give exactly one of --kb or --synthetic N");
        Embeddings emb;
        ObjectNode result = Json.MAPPER.createObjectNode();
        Path scratch;
        if (kb != null) {
            KnowledgeBase k0 = KnowledgeBase.open(kb);
            emb = Embeddings.open(k0, version != null ? version : KbVersions.requireCurrent(k0.dir()));
            result.put("data", emb.dir().toString());
            scratch = emb.dir();
        } else {
            if (out == null)
                throw new UserException("--synthetic needs --out DIR for the vectors (FAISS reads them too)");
            emb = synthetic(out);
            result.put("data", out.resolve(Embeddings.DATA).toString());
            scratch = out;
        }
        float[][] queries = queriesFile != null
                ? readRows(queriesFile, emb.dim())
                : kb != null ? strideRows(emb, numQueries) : null;
        if (queries == null) queries = readRows(out.resolve("queries.f32"), emb.dim());
        result.put("count", emb.count());
        result.put("dim", emb.dim());
        result.put("queries", queries.length);
        result.put(
                "queries_from",
                queriesFile != null
                        ? queriesFile.toString()
                        : kb != null
                                ? "embedding rows i*(count/num_queries)"
                                : out.resolve("queries.f32").toString());
        result.put("k", k);
        result.put("batch", batch);
        result.put("cpus", Runtime.getRuntime().availableProcessors());

        ObjectNode flat = result.putObject("flat");
        ai.djl.engine.Engine.getInstance(); // load libtorch before timing: a one-time cost, not the index's
        long t0 = System.nanoTime();
        TopK exact;
        try (FlatIndex index = FlatIndex.load(emb)) {
            flat.put("build_seconds", secs(t0));
            exact = searchAll(index::search, queries); // warm-up pass, and the ground truth
            flat.put("queries_per_s", round(qps(index::search, queries), 1));
        }

        int t = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        ObjectNode hnsw = result.putObject("hnsw");
        hnsw.put("m", m);
        hnsw.put("ef_construction", efConstruction);
        hnsw.put("build_threads", t);
        Path dir = KbVersions.newTempDir(scratch, "bench-hnsw");
        try {
            AtomicFiles.deleteTree(dir);
            t0 = System.nanoTime();
            HnswIndex.build(emb, dir, new HnswIndex.Params(m, efConstruction, efSearch[0], t));
            hnsw.put("build_seconds", secs(t0));
            try (HnswIndex index = HnswIndex.load(dir, emb)) {
                ArrayNode runs = hnsw.putArray("search");
                for (int ef : efSearch) {
                    index.setEfSearch(Math.max(ef, k));
                    TopK approx = searchAll(index::search, queries);
                    ObjectNode r = runs.addObject();
                    r.put("ef_search", index.efSearch());
                    r.put("queries_per_s", round(qps(index::search, queries), 1));
                    r.put("recall_at_k", round(recall(exact, approx), 4));
                }
            }
        } finally {
            AtomicFiles.deleteTree(dir);
        }
        // Lucene HNSW does no libtorch matmuls; the flat index is one sgemm, timed above as queries/s
        dev.rage2e.engine.Roofline.report(result, Double.NaN);
        System.out.println(Json.pretty(result));
        return 0;
    }

    private interface Searcher {
        TopK search(float[][] q, int k);
    }

    private TopK searchAll(Searcher s, float[][] queries) {
        int[][] ids = new int[queries.length][];
        float[][] scores = new float[queries.length][];
        for (int start = 0; start < queries.length; start += batch) {
            int end = Math.min(queries.length, start + batch);
            TopK r = s.search(java.util.Arrays.copyOfRange(queries, start, end), k);
            System.arraycopy(r.ids(), 0, ids, start, end - start);
            System.arraycopy(r.scores(), 0, scores, start, end - start);
        }
        return new TopK(ids, scores);
    }

    private double qps(Searcher s, float[][] queries) {
        double best = Double.MAX_VALUE;
        for (int r = 0; r < repeat; r++) {
            long t0 = System.nanoTime();
            searchAll(s, queries);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return queries.length / best;
    }

    private double recall(TopK exact, TopK approx) {
        long hit = 0;
        long total = 0;
        for (int q = 0; q < exact.queries(); q++) {
            Set<Integer> truth = new HashSet<>();
            for (int id : exact.ids()[q]) truth.add(id);
            for (int id : approx.ids()[q]) if (truth.contains(id)) hit++;
            total += exact.ids()[q].length;
        }
        return (double) hit / total;
    }

    private Embeddings synthetic(Path dir) throws IOException {
        Path data = dir.resolve(Embeddings.DATA);
        Path meta = dir.resolve(Embeddings.META);
        Path q = dir.resolve("queries.f32");
        if (Files.exists(meta) && Files.exists(q)) {
            Embeddings e = Embeddings.open(dir);
            if (e.count() == synthetic
                    && e.dim() == dim
                    && e.meta().path("seed").asLong() == seed) return e;
        }
        System.err.println("bench: writing " + synthetic + " random unit vectors of dimension " + dim + " to " + data);
        Files.deleteIfExists(meta);
        Random rq = new Random(seed + 1);
        EmbeddingsWriter.writeRaw(dir.resolve("queries-tmp"), numQueries, dim, i -> unit(rq, dim), null);
        Files.move(
                dir.resolve("queries-tmp").resolve(Embeddings.DATA),
                q,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        AtomicFiles.deleteTree(dir.resolve("queries-tmp"));
        Random r = new Random(seed);
        ObjectNode extra = Json.MAPPER.createObjectNode();
        extra.put("synthetic", "gaussian rows scaled to unit length");
        extra.put("seed", seed);
        EmbeddingsWriter.writeRaw(dir, synthetic, dim, i -> unit(r, dim), extra); // meta.json last: complete
        return Embeddings.open(dir);
    }

    private static float[] unit(Random r, int dim) {
        float[] v = new float[dim];
        double n = 0;
        for (int j = 0; j < dim; j++) {
            v[j] = (float) r.nextGaussian();
            n += v[j] * v[j];
        }
        float inv = (float) (1 / Math.sqrt(n));
        for (int j = 0; j < dim; j++) v[j] *= inv;
        return v;
    }

    private static float[][] strideRows(Embeddings emb, int n) {
        int nq = Math.min(n, emb.count());
        int stride = emb.count() / nq;
        float[][] out = new float[nq][];
        for (int i = 0; i < nq; i++) out[i] = emb.row(i * stride);
        return out;
    }

    private static float[][] readRows(Path file, int dim) throws IOException {
        MappedFile f = new MappedFile(file);
        if (f.size() % (4L * dim) != 0)
            throw new UserException(file + ": size " + f.size() + " is not a multiple of 4*" + dim);
        float[][] out = new float[(int) (f.size() / (4L * dim))][dim];
        for (int i = 0; i < out.length; i++) f.readFloats(4L * i * dim, out[i], 0, dim);
        return out;
    }

    private static double secs(long t0) {
        return round((System.nanoTime() - t0) / 1e9, 3);
    }

    private static double round(double x, int digits) {
        double p = Math.pow(10, digits);
        return Math.round(x * p) / p;
    }
}
