package dev.rage2e.scaleout.solr;

import dev.rage2e.index.ExactRescore;
import dev.rage2e.index.TopK;
import dev.rage2e.index.VectorIndex;
import dev.rage2e.kb.Embeddings;
import java.io.UncheckedIOException;
import java.util.stream.IntStream;
import org.apache.solr.client.solrj.SolrClient;
import org.apache.solr.client.solrj.SolrQuery;
import org.apache.solr.client.solrj.SolrRequest;
import org.apache.solr.common.SolrDocumentList;

/**
 * Searches one version's collection with {@code {!knn f=vector topK=N}} (N = max(k, efSearch), across
 * all shards) and re-scores the hits with the exact inner product from the local embeddings, as the
 * local HNSW index does (Lucene reports a transformed score).
 */
final class SolrVectorIndex implements VectorIndex {
    private final SolrClient client;
    private final String collection;
    private final Embeddings embeddings;
    private final int efSearch;

    SolrVectorIndex(SolrClient client, String collection, Embeddings embeddings, int efSearch) {
        this.client = client;
        this.collection = collection;
        this.embeddings = embeddings;
        this.efSearch = efSearch;
    }

    @Override
    public String type() {
        return "solr";
    }

    @Override
    public int dim() {
        return embeddings.dim();
    }

    @Override
    public int size() {
        return embeddings.count();
    }

    @Override
    public TopK search(float[][] queries, int k) {
        int[][] ids = new int[queries.length][];
        float[][] scores = new float[queries.length][];
        IntStream.range(0, queries.length).parallel().forEach(i -> searchOne(queries[i], k, ids, scores, i));
        return new TopK(ids, scores);
    }

    /**
     * The passage ids of the cluster's top {@code n} for {@code q}, in the cluster's order (before exact re-scoring).
     */
    int[] candidates(float[] q, int n) {
        if (q.length != dim()) throw new IllegalArgumentException("query has " + q.length + " dims, index " + dim());
        StringBuilder v = new StringBuilder("{!knn f=vector topK=").append(n).append("}[");
        for (int i = 0; i < q.length; i++) v.append(i == 0 ? "" : ",").append(q[i]);
        SolrQuery query =
                new SolrQuery(v.append(']').toString()).setFields("passage").setRows(n);
        SolrDocumentList docs;
        try {
            docs = client.query(collection, query, SolrRequest.METHOD.POST).getResults();
        } catch (Exception e) {
            throw new UncheckedIOException(
                    new java.io.IOException("solr collection " + collection + ": " + e.getMessage(), e));
        }
        int[] pid = new int[docs.size()];
        for (int j = 0; j < pid.length; j++) pid[j] = ((Number) docs.get(j).getFirstValue("passage")).intValue();
        return pid;
    }

    private void searchOne(float[] q, int k, int[][] ids, float[][] scores, int row) {
        ExactRescore.topK(embeddings, q, candidates(q, Math.min(size(), Math.max(k, efSearch))), k, ids, scores, row);
    }

    @Override
    public void close() {} // the client is shared per target
}
