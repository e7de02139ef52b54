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

    private RetrievalBackend(KnowledgeBase kb, Path encoderDir, NDManager root, EncoderModel encoder, KbRetriever retriever, int defaultK,
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
        if (defaultK < 1 || maxK < 1) throw new UserException("k must be positive");
        KnowledgeBase kb = KnowledgeBase.open(kbDir);
        NDManager root = NDManager.newBaseManager();
        EncoderModel enc = null;
        KbRetriever r = null;
        try {
            enc = EncoderModel.load(encoderDir, root);
            if (!enc.hasTokenizer()) throw new UserException(encoderDir + ": no tokenizer.json; the server needs one to read questions");
            r = KbRetriever.open(kb, indexType);
            if (r.dim() != enc.dim()) {
                throw new UserException(kbDir + ": embeddings " + r.version() + " have dim " + r.dim() + " but encoder " + encoderDir
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
        float[][] q = encoder.encodeTexts(List.of(question), true, encoder.settings.maxLength(), 1);
        long t1 = System.nanoTime();
        KbRetriever.Result r = retriever.searchPassages(q, Math.min(k, maxK));
        long t2 = System.nanoTime();
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
        return o;
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
        retriever.close();
        encoder.close();
        root.close();
    }
}
