package dev.rage2e.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Inference batches shrink for long rows so one batch's attention arrays stay bounded (EncoderModel.batchEnd). */
class EncoderBatchingTest {
    private static int end(int[] sortedLengths, int start, int batchSize) {
        long[][] seqs = new long[sortedLengths.length][];
        Integer[] order = new Integer[seqs.length];
        for (int i = 0; i < seqs.length; i++) {
            seqs[i] = new long[sortedLengths[i]];
            order[i] = i;
        }
        return EncoderModel.batchEnd(seqs, order, start, batchSize);
    }

    private static int[] lengths(int n, int len) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, len);
        return a;
    }

    @Test
    void shortRowsFillTheRequestedBatch() {
        assertEquals(32, end(lengths(100, 256), 0, 32));
        assertEquals(100, end(lengths(100, 64), 0, 128)); // 128 x 64^2 is within the bound
        assertEquals(100, end(lengths(100, 256), 96, 32)); // the last, short batch
    }

    @Test
    void longRowsComeInSmallerBatches() {
        assertEquals(8, end(lengths(100, 512), 0, 32)); // 32 x 256^2 / 512^2
        assertEquals(8, end(lengths(100, 512), 0, 8)); // the refresh batch e5 needed by hand
        assertEquals(1, end(lengths(10, 4096), 0, 32)); // never fewer than one row
    }

    @Test
    void theBatchIsCutWhereItsLongestRowWouldExceedTheBound() {
        int[] a = new int[40];
        for (int i = 0; i < 40; i++) a[i] = i < 20 ? 256 : 512; // sorted, as encodeIds sorts them
        // rows 0..19 at 256 plus k rows at 512: allowed while (20 + k) * 512^2 <= 32 * 256^2, never; so it stops at 20
        assertEquals(20, end(a, 0, 32));
        assertEquals(28, end(a, 20, 32)); // then 8 rows of 512
    }
}
