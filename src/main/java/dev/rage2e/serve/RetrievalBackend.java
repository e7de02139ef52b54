package dev.rage2e.serve;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.index.ScoredPassage;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Retrieval only: question -> question encoder -> top-k inner product over the KB's published
 * embeddings. The encoder's parameters are shared read-only by all request threads (each request
 * encodes in its own sub-manager); the KB version is swapped by {@link KbRetriever#refresh()}.
 */
public final class RetrievalBackend implements QaBackend {
    private final KnowledgeBase kb;
    private final Path encoderDir;
    private final NDManager root;
    private final EncoderModel encoder;
    private final KbRetriever retriever;
    private final int defaultK, maxK;
    private final AtomicLong reloads = new AtomicLong();
    private volatile Instant versionSince = Instant.now();
    /** Question encoding in micro-batches across concurrent requests (null: each request encodes alone). */
    private MicroBatcher<Query, Found> batcher;

    /** A request's tokenized question and k; what its batch found for it and the batch's encode/search times. */
    private record Query(long[] ids, int k) {}

    private record Found(KbRetriever.Result result, long encodeNs, long searchNs, int batchSize) {}

    private RetrievalBackend(
            KnowledgeBase kb,
            Path encoderDir,
            NDManager root,
            EncoderModel encoder,
            KbRetriever retriever,
            int defaultK,
            int maxK) {
        this.kb = kb;
        this.encoderDir = encoderDir;
        this.root = root;
        this.encoder = encoder;
        this.retriever = retriever;
        this.maxK = Math.min(maxK, kb.size());
        this.defaultK = Math.min(defaultK, this.maxK);
    }

    public static RetrievalBackend open(Path kbDir, Path encoderDir, String indexType, int defaultK, int maxK) {
        return open(kbDir, encoderDir, indexType, defaultK, maxK, 1, 1);
    }

    /**
     * As {@link #open(Path, Path, String, int, int)}, with questions of up to {@code batch} concurrent requests
     * encoded together on {@code workers} batch threads ({@code batch} 1: every request encodes on its own thread).
     */
    public static RetrievalBackend open(
            Path kbDir, Path encoderDir, String indexType, int defaultK, int maxK, int batch, int workers) {
        if (batch < 1) throw new UserException("--batch must be >= 1");
        RetrievalBackend b = open0(kbDir, encoderDir, indexType, defaultK, maxK);
        if (batch > 1) b.batcher = new MicroBatcher<>("encode-batch", workers, batch, b::searchBatch);
        return b;
    }

    private static RetrievalBackend open0(Path kbDir, Path encoderDir, String indexType, int defaultK, int maxK) {
        if (defaultK < 1 || maxK < 1) throw new UserException("k must be positive");
        KnowledgeBase kb = KnowledgeBase.open(kbDir);
        NDManager root = NDManager.newBaseManager();
        EncoderModel enc = null;
        KbRetriever r = null;
        try {
            enc = EncoderModel.load(encoderDir, root);
            if (!enc.hasTokenizer())
                throw new UserException(encoderDir + ": no tokenizer.json; the server needs one to read questions");
            r = KbRetriever.open(kb, indexType);
            if (r.dim() != enc.dim()) {
                throw new UserException(kbDir + ": embeddings " + r.version() + " have dim " + r.dim() + " but "
                        + "encoder " + encoderDir
                        + " has dim " + enc.dim() + " (encode the KB with a matching encoder)");
            }
            return new RetrievalBackend(kb, encoderDir, root, enc, r, defaultK, maxK);
        } catch (IOException | RuntimeException e) {
            if (r != null) r.close();
            if (enc != null) enc.close();
            root.close();
            if (e instanceof UserException u) throw u;
            throw new UserException(kbDir + ": cannot open for serving: " + e.getMessage(), e);
        }
    }

    @Override
    public ObjectNode answer(String question, int k) {
        Inference.enter();
        long t0 = System.nanoTime();
        long[][] ids = encoder.tokenize(List.of(question), true, encoder.settings.maxLength());
        KbRetriever.Result r;
        long t1, t2;
        int batchSize = 1;
        if (batcher == null) {
            float[][] q = encoder.encodeIds(ids, 1, null);
            t1 = System.nanoTime();
            r = retriever.searchPassages(q, Math.min(k, maxK));
            t2 = System.nanoTime();
        } else {
            Found f = batcher.submit(new Query(ids[0], Math.min(k, maxK)));
            r = f.result();
            t2 = System.nanoTime();
            t1 = t2 - f.searchNs(); // question = waiting for and encoding in the batch; retrieval = the batch's search
            batchSize = f.batchSize();
        }
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("question", question);
        o.put("k", k);
        ArrayNode ps = o.putArray("passages");
        for (ScoredPassage sp : r.hits().get(0)) {
            ObjectNode p = ps.addObject();
            p.put("id", sp.passage().id());
            p.put("title", sp.passage().title());
            p.put("text", sp.passage().text());
            p.put("score", sp.score());
        }
        o.put("embeddings_version", r.version());
        o.put("index", r.indexType());
        ObjectNode t = o.putObject("timings");
        t.put("question_ms", (t1 - t0) / 1e6);
        t.put("retrieval_ms", (t2 - t1) / 1e6);
        t.put("model_ms", (t2 - t0) / 1e6);
        if (batcher != null) t.put("batch", batchSize);
        return o;
    }

    /**
     * The questions of concurrent requests: encoded in length-sorted groups (padding costs as much as a real
     * token, and a forward pass costs little more than its tokens), then searched in one call when the index
     * is exact (flat: one pass over the embeddings for the whole batch, then each request keeps its top k of
     * the batch's largest k, which for exact search is its own top k). HNSW is searched per question, since
     * its result depends on k.
     */
    private List<Found> searchBatch(List<Query> queries) {
        long t0 = System.nanoTime();
        long[][] ids = new long[queries.size()][];
        for (int i = 0; i < ids.length; i++) ids[i] = queries.get(i).ids();
        float[][] q = encodeGrouped(ids);
        long t1 = System.nanoTime();
        List<KbRetriever.Result> results = new ArrayList<>(q.length);
        if (retriever.resolvedIndexType().equals("flat")) {
            int kMax = 0;
            for (Query x : queries) kMax = Math.max(kMax, x.k());
            KbRetriever.Result all = retriever.searchPassages(q, kMax);
            for (int i = 0; i < q.length; i++) {
                List<ScoredPassage> hits = all.hits().get(i);
                results.add(new KbRetriever.Result(
                        all.version(),
                        all.indexType(),
                        List.of(hits.subList(0, Math.min(queries.get(i).k(), hits.size())))));
            }
        } else {
            for (int i = 0; i < q.length; i++)
                results.add(retriever.searchPassages(
                        new float[][] {q[i]}, queries.get(i).k()));
        }
        long t2 = System.nanoTime();
        List<Found> out = new ArrayList<>(q.length);
        for (KbRetriever.Result r : results) out.add(new Found(r, t1 - t0, t2 - t1, q.length));
        return out;
    }

    /** Token-equivalents a forward pass costs beyond its tokens (op dispatch for every layer), for grouping. */
    static final int PASS_OVERHEAD_TOKENS = 48;

    /**
     * Embeddings of {@code ids} (input order), computed in groups of similar length: sorted by length, cut
     * where the padding saved is worth another forward pass (dynamic programming over the sorted lengths;
     * cost of a group = rows x longest + {@link #PASS_OVERHEAD_TOKENS}).
     */
    private float[][] encodeGrouped(long[][] ids) {
        int n = ids.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, java.util.Comparator.comparingInt(i -> ids[i].length));
        long[] best = new long[n + 1];
        int[] cut = new int[n + 1];
        for (int end = 1; end <= n; end++) {
            best[end] = Long.MAX_VALUE;
            int longest = ids[order[end - 1]].length;
            for (int start = 0; start < end; start++) {
                long c = best[start] + (long) (end - start) * longest + PASS_OVERHEAD_TOKENS;
                if (c < best[end]) {
                    best[end] = c;
                    cut[end] = start;
                }
            }
        }
        float[][] out = new float[n][];
        for (int end = n; end > 0; end = cut[end]) {
            int start = cut[end];
            long[][] group = new long[end - start][];
            for (int i = start; i < end; i++) group[i - start] = ids[order[i]];
            float[][] e = encoder.encodeIds(group, group.length, null);
            for (int i = start; i < end; i++) out[order[i]] = e[i - start];
        }
        return out;
    }

    @Override
    public int batchCapacity() {
        return batcher == null ? 1 : batcher.maxBatch();
    }

    @Override
    public ObjectNode health() {
        ObjectNode h = Json.MAPPER.createObjectNode();
        h.put("status", "ok");
        h.put("mode", "retrieval");
        h.put("generator", false);
        h.put("encoder", encoderDir.toString());
        h.put("kb", kb.dir().toString());
        h.put("passages", kb.size());
        h.put("embeddings_version", retriever.version());
        h.put("embeddings_since", versionSince.toString());
        h.put("index", retriever.resolvedIndexType());
        h.put("default_k", defaultK);
        h.put("max_k", maxK);
        h.put("reloads", reloads.get());
        MicroBatcher.describe(h, batcher);
        return h;
    }

    @Override
    public synchronized ObjectNode reload() {
        String before = retriever.version();
        boolean changed;
        try {
            changed = retriever.refresh();
        } catch (IOException e) {
            throw new UserException(kb.dir() + ": cannot load the current embeddings version: " + e.getMessage(), e);
        }
        if (changed) {
            reloads.incrementAndGet();
            versionSince = Instant.now();
        }
        ObjectNode o = health();
        o.put("embeddings_changed", changed);
        if (changed) o.put("embeddings_before", before);
        return o;
    }

    @Override
    public int defaultK() {
        return defaultK;
    }

    @Override
    public int maxK() {
        return maxK;
    }

    @Override
    public void close() {
        if (batcher != null) batcher.close();
        retriever.close();
        encoder.close();
        root.close();
    }
}
