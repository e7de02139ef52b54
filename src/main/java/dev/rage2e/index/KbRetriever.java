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
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

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
    private final Set<String> open = ConcurrentHashMap.newKeySet(); // versions loaded and not yet freed
    private volatile KbJanitor janitor;

    private KbRetriever(KnowledgeBase kb, String indexType) {
        this.kb = kb;
        this.indexType = Indexes.checkType(indexType, true);
    }

    /** Opens the KB's current version with the given index type (auto = HNSW when built, else flat). */
    public static KbRetriever open(KnowledgeBase kb, String indexType) throws IOException {
        KbRetriever r = new KbRetriever(kb, indexType);
        r.holder.swap(r.load(KbVersions.requireCurrent(kb.dir())), r::freed);
        return r;
    }

    /** As {@link #open} but on a given version, without touching {@code current}. */
    public static KbRetriever openVersion(KnowledgeBase kb, String version, String indexType) throws IOException {
        KbRetriever r = new KbRetriever(kb, indexType);
        r.holder.swap(r.load(version), r::freed);
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
        IndexHolder.Snapshot s = new IndexHolder.Snapshot(emb, index);
        open.add(version);
        return s;
    }

    /**
     * Opens {@code version} (embeddings + index) for a later {@link #publishOpened}: the expensive part
     * of publishing (the flat index reads all vectors, HNSW its doc values), done on the caller's thread.
     */
    public IndexHolder.Snapshot openForPublish(String version) throws IOException {
        return load(version);
    }

    /** Closes a version opened by {@link #openForPublish} that will not be published. */
    public void discardOpened(IndexHolder.Snapshot s) {
        s.close();
        open.remove(s.version());
    }

    /**
     * Hands file work (moving {@code current}, deleting replaced versions) to a background thread;
     * without one, {@link #publish} does it on the caller's thread.
     */
    public void useJanitor(KbJanitor j) {
        this.janitor = j;
    }

    /** Versions this process has open (published, or replaced but still read by someone). */
    public Set<String> openVersions() {
        return Set.copyOf(open);
    }

    /**
     * Publishes an opened version: a reference swap for this process's readers; the {@code current}
     * pointer moves and the replaced version becomes a deletion candidate on the janitor's thread.
     */
    public void publishOpened(IndexHolder.Snapshot next) {
        KbJanitor j = janitor;
        if (j == null) throw new IllegalStateException("publishOpened needs a janitor (useJanitor)");
        holder.swap(next, old -> {
            freed(old);
            j.candidates(List.of(old.version()));
        });
        j.publish(next.version());
    }

    private void freed(IndexHolder.Snapshot s) {
        open.remove(s.version());
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
        public String contentId() {
            return lease.embeddings().sha256();
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
            throw new UserException("query vectors have " + queries[0].length + " dimensions, the embeddings "
                    + "of " + lease.version() + " "
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
                for (int j = 0; j < top.ids()[q].length; j++)
                    row.add(new ScoredPassage(kb.passage(top.ids()[q][j]), top.scores()[q][j]));
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
        holder.swap(
                next,
                deleteOld
                        ? s -> {
                            freed(s);
                            deleteFiles(s);
                        }
                        : this::freed);
    }

    /** Loads the on-disk {@code current} if it differs from the one in memory; true if it swapped. */
    public boolean refresh() throws IOException {
        String onDisk = KbVersions.requireCurrent(kb.dir());
        if (onDisk.equals(holder.version())) return false;
        holder.swap(load(onDisk), this::freed);
        return true;
    }

    private void deleteFiles(IndexHolder.Snapshot s) {
        try {
            if (!s.version().equals(KbVersions.current(kb.dir()).orElse(null)))
                KbVersions.delete(kb.dir(), s.version());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        holder.close();
    }
}
