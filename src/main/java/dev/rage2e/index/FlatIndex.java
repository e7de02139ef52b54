package dev.rage2e.index;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.rage2e.kb.Embeddings;
import java.util.ArrayList;
import java.util.List;

/**
 * Exact MIPS: the batch of queries times the embedding matrix (one sgemm in libtorch, which beats any
 * Java loop by an order of magnitude on 2 cores) followed by libtorch's top-k. The matrix lives in
 * native memory in row blocks, so KBs beyond 2^31 floats work; per-block top-k lists are merged.
 */
public final class FlatIndex implements VectorIndex {
    /** Rows per block: bounds both one native tensor and the [batch, block] score matrix. */
    static final int BLOCK_ROWS = 1 << 18;

    private final NDManager manager;
    private final List<NDArray> blocks = new ArrayList<>();
    private final int size;
    private final int dim;

    private FlatIndex(NDManager manager, int size, int dim) {
        this.manager = manager;
        this.size = size;
        this.dim = dim;
    }

    /** Loads all rows into native memory (count x dim x 4 bytes). */
    public static FlatIndex load(Embeddings emb) {
        NDManager m = NDManager.newBaseManager();
        FlatIndex index = new FlatIndex(m, emb.count(), emb.dim());
        try {
            for (int start = 0; start < emb.count(); start += BLOCK_ROWS) {
                int rows = Math.min(BLOCK_ROWS, emb.count() - start);
                float[] buf = new float[rows * emb.dim()];
                emb.rows(start, rows, buf, 0);
                index.blocks.add(m.create(buf, new Shape(rows, emb.dim())));
            }
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return index;
    }

    /** An index over in-memory rows (tests, benchmarks). */
    public static FlatIndex of(float[][] rows) {
        return of(rows, BLOCK_ROWS);
    }

    static FlatIndex of(float[][] rows, int blockRows) {
        NDManager m = NDManager.newBaseManager();
        int dim = rows.length == 0 ? 0 : rows[0].length;
        FlatIndex index = new FlatIndex(m, rows.length, dim);
        for (int start = 0; start < rows.length; start += blockRows) {
            int n = Math.min(blockRows, rows.length - start);
            float[] buf = new float[n * dim];
            for (int i = 0; i < n; i++) System.arraycopy(rows[start + i], 0, buf, i * dim, dim);
            index.blocks.add(m.create(buf, new Shape(n, dim)));
        }
        return index;
    }

    @Override
    public String type() {
        return "flat";
    }

    @Override
    public int dim() {
        return dim;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public TopK search(float[][] queries, int k) {
        int nq = queries.length;
        int kk = Math.min(k, size);
        int[][] ids = new int[nq][];
        float[][] scores = new float[nq][];
        if (nq == 0) return new TopK(ids, scores);
        float[] q = new float[nq * dim];
        for (int i = 0; i < nq; i++) {
            if (queries[i].length != dim)
                throw new IllegalArgumentException("query has " + queries[i].length + " dims, index " + dim);
            System.arraycopy(queries[i], 0, q, i * dim, dim);
        }
        try (NDManager sub = manager.newSubManager()) {
            NDArray qa = sub.create(q, new Shape(nq, dim));
            int offset = 0;
            for (NDArray block : blocks) {
                int rows = (int) block.getShape().get(0);
                int kb = Math.min(kk, rows);
                NDList top = qa.matMul(block.transpose()).topK(kb, 1, true, true);
                float[] v = top.get(0).toFloatArray();
                long[] ix = top.get(1).toLongArray();
                for (int i = 0; i < nq; i++) {
                    int[] bi = new int[kb];
                    float[] bs = new float[kb];
                    for (int j = 0; j < kb; j++) {
                        bi[j] = (int) ix[i * kb + j] + offset;
                        bs[j] = v[i * kb + j];
                    }
                    if (ids[i] == null) {
                        ids[i] = bi;
                        scores[i] = bs;
                    } else {
                        merge(ids, scores, i, bi, bs, kk);
                    }
                }
                offset += rows;
            }
        }
        return new TopK(ids, scores);
    }

    /** Merges two best-first lists for query i, keeping the best {@code k}. */
    private static void merge(int[][] ids, float[][] scores, int i, int[] bi, float[] bs, int k) {
        int[] ai = ids[i];
        float[] as = scores[i];
        int n = Math.min(k, ai.length + bi.length);
        int[] oi = new int[n];
        float[] os = new float[n];
        int a = 0;
        int b = 0;
        for (int j = 0; j < n; j++) {
            if (b >= bi.length || (a < ai.length && as[a] >= bs[b])) {
                oi[j] = ai[a];
                os[j] = as[a++];
            } else {
                oi[j] = bi[b];
                os[j] = bs[b++];
            }
        }
        ids[i] = oi;
        scores[i] = os;
    }

    @Override
    public void close() {
        manager.close();
    }
}
