package dev.rage2e.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class FlatIndexTest {
    @Test
    void topKEqualsBruteForceAcrossBlocks() {
        float[][] rows = Vectors.gaussian(1000, 24, 1, false);
        float[][] queries = Vectors.gaussian(37, 24, 2, false);
        for (int block : new int[] {1000, 128, 7}) {
            try (FlatIndex index = FlatIndex.of(rows, block)) {
                TopK top = index.search(queries, 10);
                for (int q = 0; q < queries.length; q++) {
                    assertArrayEquals(
                            Vectors.bruteForce(rows, queries[q], 10), top.ids()[q], "query " + q + " block " + block);
                    for (int j = 0; j < 10; j++) {
                        assertEquals(Vectors.dot(rows[top.ids()[q][j]], queries[q]), top.scores()[q][j], 1e-4);
                    }
                }
            }
        }
    }

    @Test
    void kLargerThanIndexReturnsEverythingSorted() {
        float[][] rows = Vectors.gaussian(5, 8, 3, true);
        try (FlatIndex index = FlatIndex.of(rows, 2)) {
            TopK top = index.search(new float[][] {rows[3]}, 20);
            assertEquals(5, top.ids()[0].length);
            assertEquals(3, top.ids()[0][0]);
            assertArrayEquals(Vectors.bruteForce(rows, rows[3], 5), top.ids()[0]);
        }
    }
}
