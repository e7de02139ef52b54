package dev.rage2e.index;

/** Search results for a batch of queries: row q holds the ids and inner products, best first. */
public record TopK(int[][] ids, float[][] scores) {
    public int queries() {
        return ids.length;
    }
}
