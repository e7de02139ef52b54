package dev.rage2e.index;

import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.rag.Retriever;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The local {@link Retriever}: top-k passages of a KB directory against its published embeddings
 * version, held in an {@link IndexHolder}. New versions come in through {@link #publish} (the
 * training refresher: pointer file + in-memory swap) or {@link #refresh} (a server noticing that
 * another process moved {@code current}).
 */
public final class KbRetriever implements Retriever, AutoCloseable {
    private final KnowledgeBase kb;
    private final String indexType;
    private final IndexHolder holder = new IndexHolder();

    private KbRetriever(KnowledgeBase kb, String indexType) {
        this.kb = kb;
        this.indexType = Indexes.checkType(indexType, true);
    }

    /** Opens the KB's current version with the given index type (auto = HNSW when built, else flat). */
    public static KbRetriever open(KnowledgeBase kb, String indexType) throws IOException {
        KbRetriever r = new KbRetriever(kb, indexType);
        r.holder.swap(r.load(KbVersions.requireCurrent(kb.dir())), null);
        return r;
    }

    /** As {@link #open} but on a given version, without touching {@code current}. */
    public static KbRetriever openVersion(KnowledgeBase kb, String version, String indexType) throws IOException {
        KbRetriever r = new KbRetriever(kb, indexType);
        r.holder.swap(r.load(version), null);
        return r;
    }

    public KnowledgeBase kb() {
        return kb;
    }

    public String indexType() {
        return indexType;
    }

    /** The type of the index new searches use ("flat" or "hnsw"; "auto" resolved). */
    public String resolvedIndexType() {
        try (IndexHolder.Lease l = holder.acquire()) {
            return l.index().type();
        }
    }

    public IndexHolder holder() {
        return holder;
    }

    /** The version new searches use. */
    public String version() {
        return holder.version();
    }

    IndexHolder.Snapshot load(String version) throws IOException {
        Embeddings emb = Embeddings.open(kb, version);
        VectorIndex index = Indexes.open(emb, indexType);
        return new IndexHolder.Snapshot(emb, index);
    }

    @Override
    public Snapshot acquire() {
        return new LeasedSnapshot(kb, holder.acquire());
    }

    @Override
    public int dim() {
        try (IndexHolder.Lease l = holder.acquire()) {
            return l.index().dim();
        }
    }

    /** A pinned version: every call answers from the same embeddings and index until closed. */
    private static final class LeasedSnapshot implements Snapshot {
        private final KnowledgeBase kb;
        private final IndexHolder.Lease lease;

        LeasedSnapshot(KnowledgeBase kb, IndexHolder.Lease lease) {
            this.kb = kb;
            this.lease = lease;
        }

        @Override
        public String version() {
            return lease.version();
        }

        @Override
        public Hits search(float[][] queries, int k) {
            checkDim(queries, lease);
            TopK top = lease.index().search(queries, k);
            return new Hits(top.ids(), top.scores());
        }

        @Override
        public float[] embedding(int passageId) {
            return lease.embeddings().row(passageId);
        }

        @Override
        public Retriever.Passage passage(int passageId) {
            dev.rage2e.kb.Passage p = kb.passage(passageId);
            return new Retriever.Passage(p.id(), p.title(), p.text());
        }

        @Override
        public void close() {
            lease.close();
        }
    }

    private static void checkDim(float[][] queries, IndexHolder.Lease lease) {
        if (queries.length > 0 && queries[0].length != lease.index().dim()) {
            throw new UserException("query vectors have " + queries[0].length + " dimensions, the embeddings of " + lease.version() + " "
                    + lease.index().dim() + " (was the KB encoded with another encoder?)");
        }
    }

    /** Results of one batch with the passages, all from one embeddings version. */
    public record Result(String version, String indexType, List<List<ScoredPassage>> hits) {}

    public Result searchPassages(float[][] queries, int k) {
        try (IndexHolder.Lease lease = holder.acquire()) {
            checkDim(queries, lease);
            TopK top = lease.index().search(queries, k);
            List<List<ScoredPassage>> out = new ArrayList<>(queries.length);
            for (int q = 0; q < queries.length; q++) {
                List<ScoredPassage> row = new ArrayList<>(top.ids()[q].length);
                for (int j = 0; j < top.ids()[q].length; j++) row.add(new ScoredPassage(kb.passage(top.ids()[q][j]), top.scores()[q][j]));
                out.add(row);
            }
            return new Result(lease.version(), lease.index().type(), out);
        }
    }

    /**
     * Makes {@code version} current on disk and for new searches. With {@code deleteOld}, the previous
     * version's files are deleted once the last search using it has finished.
     */
    public void publish(String version, boolean deleteOld) throws IOException {
        IndexHolder.Snapshot next = load(version);
        KbVersions.publish(kb.dir(), version);
        holder.swap(next, deleteOld ? this::deleteFiles : null);
    }

    /** Loads the on-disk {@code current} if it differs from the one in memory; true if it swapped. */
    public boolean refresh() throws IOException {
        String onDisk = KbVersions.requireCurrent(kb.dir());
        if (onDisk.equals(holder.version())) return false;
        holder.swap(load(onDisk), null);
        return true;
    }

    private void deleteFiles(IndexHolder.Snapshot s) {
        try {
            if (!s.version().equals(KbVersions.current(kb.dir()).orElse(null))) KbVersions.delete(kb.dir(), s.version());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        holder.close();
    }
}
