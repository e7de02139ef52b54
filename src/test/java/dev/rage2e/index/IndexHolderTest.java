package dev.rage2e.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IndexHolderTest {
    @TempDir
    Path tmp;

    @Test
    void searchesDuringSwapsSeeOneWholeVersion() throws Exception {
        int n = 300;
        int dim = 16;
        int k = 5;
        KnowledgeBase kb = Vectors.kb(tmp.resolve("kb"), n);
        float[][] queries = Vectors.gaussian(8, dim, 99, true);
        Map<String, int[][]> expected = new HashMap<>();
        List<String> versions = new ArrayList<>();
        for (int v = 0; v < 4; v++) {
            float[][] rows = Vectors.gaussian(n, dim, 100 + v, true);
            String name = EmbeddingsWriter.writeVersion(kb, rows, null);
            versions.add(name);
            int[][] e = new int[queries.length][];
            for (int q = 0; q < queries.length; q++) e[q] = Vectors.bruteForce(rows, queries[q], k);
            expected.put(name, e);
        }
        for (int v = 1; v < 4; v++)
            assertFalse(java.util.Arrays.deepEquals(expected.get(versions.get(0)), expected.get(versions.get(v))));
        KbVersions.publish(kb.dir(), versions.get(0));

        try (KbRetriever retriever = KbRetriever.open(kb, "flat")) {
            AtomicBoolean stop = new AtomicBoolean();
            List<Throwable> failures = new CopyOnWriteArrayList<>();
            Map<String, Integer> seen = new ConcurrentHashMap<>();
            List<Thread> readers = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                Thread th = new Thread(() -> {
                    try {
                        while (!stop.get()) {
                            KbRetriever.Result r = retriever.searchPassages(queries, k);
                            int[][] want = expected.get(r.version());
                            for (int q = 0; q < queries.length; q++) {
                                int[] got = r.hits().get(q).stream()
                                        .mapToInt(h -> h.passage().id())
                                        .toArray();
                                assertArrayEquals(
                                        want[q], got, "a search labelled " + r.version() + " returned other results");
                            }
                            seen.merge(r.version(), 1, Integer::sum);
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                });
                th.start();
                readers.add(th);
            }
            for (int swap = 0; swap < 120 && failures.isEmpty(); swap++) {
                String next = versions.get((swap + 1) % versions.size());
                retriever.publish(next, false);
                assertEquals(next, KbVersions.current(kb.dir()).orElseThrow());
                Thread.sleep(2);
            }
            stop.set(true);
            for (Thread th : readers) th.join();
            if (!failures.isEmpty()) throw new AssertionError(failures.get(0));
            assertTrue(seen.size() >= 2, "readers should have run against several versions: " + seen);
        }
    }

    @Test
    void aVersionIsDeletedOnlyAfterItsLastReaderLeaves() throws Exception {
        KnowledgeBase kb = Vectors.kb(tmp.resolve("kb"), 40);
        String v1 = EmbeddingsWriter.writeVersion(kb, Vectors.gaussian(40, 8, 1, true), null);
        String v2 = EmbeddingsWriter.writeVersion(kb, Vectors.gaussian(40, 8, 2, true), null);
        KbVersions.publish(kb.dir(), v1);
        try (KbRetriever retriever = KbRetriever.open(kb, "flat")) {
            IndexHolder.Lease lease = retriever.holder().acquire();
            IndexHolder.Snapshot old = lease.snapshot();
            assertEquals(2, lease.references());
            retriever.publish(v2, true);
            assertEquals(v2, retriever.version());
            assertEquals(v2, KbVersions.current(kb.dir()).orElseThrow());
            // the reader still holds v1: its files and its index stay usable
            assertTrue(Files.isDirectory(kb.dir().resolve(v1)));
            assertEquals(1, lease.references());
            TopK top = lease.index().search(new float[][] {lease.embeddings().row(7)}, 1);
            assertEquals(7, top.ids()[0][0]);
            lease.close();
            lease.close(); // idempotent
            assertEquals(0, lease.references());
            assertFalse(Files.exists(kb.dir().resolve(v1)), "freed version must be deleted");
            assertEquals(List.of(v2), KbVersions.list(kb.dir()));
            // new searches use v2
            try (IndexHolder.Lease l2 = retriever.holder().acquire()) {
                assertEquals(v2, l2.version());
            }
        }
    }
}
