package dev.rage2e.index;

import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.train.refresh.IndexBuilder;
import java.io.IOException;

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

    public KbIndexBuilder(KbRetriever retriever, String indexType, HnswIndex.Params hnsw, EmbeddingsWriter.Options encode, boolean deleteOld) {
        this.retriever = retriever;
        this.indexType = Indexes.checkType(indexType, false);
        this.hnsw = hnsw;
        this.encode = encode;
        this.deleteOld = deleteOld;
        if (encode.shardCount() != 1) throw new IllegalArgumentException("the refresher encodes the whole KB (no shards)");
    }

    @Override
    public Built build(EncoderModel encoder, String label) throws IOException {
        EmbeddingsWriter.Result r = EmbeddingsWriter.encode(retriever.kb(), encoder, EncoderIdentity.ofParams(label, encoder), encode);
        long t0 = System.nanoTime();
        if (indexType.equals("hnsw")) {
            try {
                Indexes.build(Embeddings.open(retriever.kb(), r.version()), "hnsw", hnsw);
            } catch (IOException | RuntimeException e) {
                KbVersions.delete(retriever.kb().dir(), r.version());
                throw e;
            }
        }
        return new Built(r.version(), r.passagesEncoded(), r.seconds(), (System.nanoTime() - t0) / 1e9);
    }

    @Override
    public void publish(String version) throws IOException {
        retriever.publish(version, deleteOld);
    }

    @Override
    public void discard(String version) throws IOException {
        KbVersions.delete(retriever.kb().dir(), version);
    }

    @Override
    public int[][] search(String version, float[][] queries, int k) throws IOException {
        if (version.equals(retriever.version())) {
            try (var snap = retriever.acquire()) {
                if (snap.version().equals(version)) return snap.search(queries, k).ids();
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
