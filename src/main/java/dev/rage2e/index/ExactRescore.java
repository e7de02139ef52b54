package dev.rage2e.index;

import dev.rage2e.kb.Embeddings;

/**
 * Re-scores an approximate index's candidates with the exact inner product from the embeddings and keeps the
 * best k (HNSW engines report a transformed similarity, not q.d, and RAG's doc scores need q.d).
 */
public final class ExactRescore {
    private ExactRescore() {}

    /**
     * Fills {@code ids[row]} and {@code scores[row]} with the best {@code k}
     * of {@code candidates} for {@code q}, best first.
     */
    public static void topK(
            Embeddings embeddings, float[] q, int[] candidates, int k, int[][] ids, float[][] scores, int row) {
        int n = candidates.length;
        float[] ip = new float[n];
        float[] v = new float[embeddings.dim()];
        for (int j = 0; j < n; j++) {
            embeddings.rows(candidates[j], 1, v, 0);
            float s = 0;
            for (int t = 0; t < v.length; t++) s += v[t] * q[t];
            ip[j] = s;
        }
        Integer[] order = new Integer[n];
        for (int j = 0; j < n; j++) order[j] = j;
        java.util.Arrays.sort(order, (a, b) -> Float.compare(ip[b], ip[a]));
        int kk = Math.min(k, n);
        ids[row] = new int[kk];
        scores[row] = new float[kk];
        for (int j = 0; j < kk; j++) {
            ids[row][j] = candidates[order[j]];
            scores[row][j] = ip[order[j]];
        }
    }
}
