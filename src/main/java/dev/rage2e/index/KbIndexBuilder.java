package dev.rage2e.index;

import dev.rage2e.kb.DistributedEncoder;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.util.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The refresher's storage side over a local KB: encode all passages with an in-memory encoder
 * snapshot into a new embeddings version (identity = label + weight fingerprint), build its index
 * (flat: nothing to build; hnsw: Lucene graph), and publish through the {@link KbRetriever} so that
 * readers switch atomically. With {@code deleteOld}, a replaced version is deleted once its last
 * reader is done.
 */
public final class KbIndexBuilder implements IndexBuilder {
    private final KbRetriever retriever;
    private final String indexType;
    private final HnswIndex.Params hnsw;
    private final EmbeddingsWriter.Options encode;
    private final boolean deleteOld;
    private final boolean janitor;

    public KbIndexBuilder(
            KbRetriever retriever,
            String indexType,
            HnswIndex.Params hnsw,
            EmbeddingsWriter.Options encode,
            boolean deleteOld) {
        this.retriever = retriever;
        this.indexType = Indexes.checkType(indexType, false);
        this.hnsw = hnsw;
        this.encode = encode;
        this.deleteOld = deleteOld;
        this.janitor = false;
        if (encode.shardCount() != 1)
            throw new IllegalArgumentException("the refresher encodes the whole KB (no shards)");
    }

    /** A builder whose publishes go through the retriever's {@link KbJanitor} (what the trainer uses). */
    public KbIndexBuilder(
            KbRetriever retriever, String indexType, HnswIndex.Params hnsw, EmbeddingsWriter.Options encode) {
        this.retriever = retriever;
        this.indexType = Indexes.checkType(indexType, false);
        this.hnsw = hnsw;
        this.encode = encode;
        this.deleteOld = false;
        this.janitor = true;
        if (encode.shardCount() != 1)
            throw new IllegalArgumentException("the refresher encodes the whole KB (no shards)");
    }

    private volatile DistributedEncoder distributed;

    /**
     * Encode refreshes with {@code d} (e.g. on a Spark cluster) instead of
     * in this process; the index side is unchanged.
     */
    public KbIndexBuilder encodeWith(DistributedEncoder d) {
        this.distributed = d;
        return this;
    }

    @Override
    public Built build(EncoderModel encoder, String label) throws IOException {
        EncoderIdentity identity = EncoderIdentity.ofParams(label, encoder);
        DistributedEncoder d = distributed;
        EmbeddingsWriter.Result r = d == null
                ? EmbeddingsWriter.encode(retriever.kb(), encoder, identity, encode)
                : encodeElsewhere(d, encoder, identity);
        long t0 = System.nanoTime();
        if (indexType.equals("hnsw") || RemoteIndex.isRemote(indexType)) {
            try {
                Indexes.build(Embeddings.open(retriever.kb(), r.version()), indexType, hnsw);
            } catch (IOException | RuntimeException e) {
                KbVersions.delete(retriever.kb().dir(), r.version());
                throw e;
            }
        }
        double indexSeconds = (System.nanoTime() - t0) / 1e9;
        IndexHolder.Snapshot opened;
        try {
            opened = retriever.openForPublish(r.version()); // here, on the refresher's thread, not at publish time
        } catch (IOException | RuntimeException e) {
            KbVersions.delete(retriever.kb().dir(), r.version());
            throw e;
        }
        return new Built(r.version(), r.passagesEncoded(), r.seconds(), indexSeconds, opened);
    }

    /**
     * The snapshot goes where the workers read the KB (inside its folder, written under a temp name, so a worker never
     * sees half of it) and is removed once the version is merged.
     */
    private EmbeddingsWriter.Result encodeElsewhere(
            DistributedEncoder d, EncoderModel encoder, EncoderIdentity identity) throws IOException {
        Path kbDir = retriever.kb().dir();
        Path tmp = KbVersions.newTempDir(kbDir, "encoder");
        Path snapshot = kbDir.resolve("encoder-" + identity.key());
        try {
            encoder.save(tmp);
            if (Files.exists(snapshot)) AtomicFiles.deleteTree(snapshot);
            Files.move(tmp, snapshot, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return d.encode(retriever.kb(), snapshot, identity, encode);
        } finally {
            AtomicFiles.deleteTree(tmp);
            AtomicFiles.deleteTree(snapshot);
        }
    }

    /**
     * With a janitor on the retriever: a reference swap (pointer file and deletions in the background,
     * deletions subject to the janitor's keep rule). Without: the old synchronous publish.
     */
    @Override
    public void publish(Built built) throws IOException {
        if (RemoteIndex.isRemote(indexType)) { // the cluster's readers first: if that fails, nothing here has moved
            // with a janitor, old collections go with their local versions
            // (KbJanitor's deletion hook), never one a checkpoint names
            RemoteIndex.engine(indexType)
                    .publish(
                            Embeddings.open(retriever.kb(), built.version()),
                            RemoteIndex.target(indexType),
                            !janitor && deleteOld);
        }
        if (janitor) {
            retriever.publishOpened(built.opened());
        } else {
            retriever.discardOpened(built.opened());
            retriever.publish(built.version(), deleteOld);
        }
    }

    @Override
    public void discard(Built built) throws IOException {
        Embeddings emb = RemoteIndex.isRemote(indexType) ? Embeddings.open(retriever.kb(), built.version()) : null;
        // refuses the current version, before its snapshot is touched
        KbVersions.delete(retriever.kb().dir(), built.version());
        if (emb != null) RemoteIndex.engine(indexType).delete(emb, RemoteIndex.target(indexType));
        retriever.discardOpened(built.opened());
    }

    @Override
    public int[][] search(String version, float[][] queries, int k) throws IOException {
        if (version.equals(retriever.version())) {
            try (var snap = retriever.acquire()) {
                if (snap.version().equals(version))
                    return snap.search(queries, k).ids();
            }
        }
        try (KbRetriever other = KbRetriever.openVersion(retriever.kb(), version, indexType)) {
            try (var snap = other.acquire()) {
                return snap.search(queries, k).ids();
            }
        }
    }

    @Override
    public String current() {
        return retriever.version();
    }
}
