package dev.rage2e.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HnswIndexTest {
    @TempDir
    Path tmp;

    @Test
    void recallAgainstExactOnRandomVectorsAndSaveLoadRoundTrip() throws Exception {
        int n = 4000;
        int dim = 32;
        float[][] rows = Vectors.gaussian(n, dim, 11, false); // not normalised: a real MIPS problem
        float[][] queries = Vectors.gaussian(200, dim, 12, false);
        KnowledgeBase kb = Vectors.kb(tmp.resolve("kb"), n);
        String version = EmbeddingsWriter.writeVersion(kb, rows, null);
        Embeddings emb = Embeddings.open(kb, version);
        Indexes.build(emb, "hnsw", new HnswIndex.Params(16, 100, 100, 2));
        assertTrue(Indexes.hasHnsw(emb));

        int k = 10;
        TopK exact;
        try (FlatIndex flat = FlatIndex.load(emb)) {
            exact = flat.search(queries, k);
        }
        TopK approx;
        try (VectorIndex hnsw = Indexes.open(emb, "auto")) {
            assertEquals("hnsw", hnsw.type());
            approx = hnsw.search(queries, k);
        }
        int found = 0;
        for (int q = 0; q < queries.length; q++) {
            Set<Integer> truth = new HashSet<>();
            for (int id : exact.ids()[q]) truth.add(id);
            for (int j = 0; j < k; j++) {
                if (truth.contains(approx.ids()[q][j])) found++;
                assertEquals(
                        Vectors.dot(rows[approx.ids()[q][j]], queries[q]),
                        approx.scores()[q][j],
                        1e-4,
                        "scores are exact inner products");
                if (j > 0) assertTrue(approx.scores()[q][j - 1] >= approx.scores()[q][j]);
            }
        }
        double recall = found / (double) (queries.length * k);
        assertTrue(recall >= 0.98, "HNSW recall@10 " + recall);

        // loaded again from disk (no rebuild): same answers
        try (HnswIndex again = HnswIndex.load(emb.dir().resolve(Indexes.HNSW_DIR), emb)) {
            TopK second = again.search(queries, k);
            for (int q = 0; q < queries.length; q++) assertArrayEquals(approx.ids()[q], second.ids()[q]);
            assertEquals(16, again.meta().get("m").asInt());
            assertEquals(100, again.meta().get("ef_construction").asInt());
        }
    }

    @Test
    void anIndexIsTiedToItsEmbeddingsVersion() throws Exception {
        KnowledgeBase kb = Vectors.kb(tmp.resolve("kb"), 50);
        String v1 = EmbeddingsWriter.writeVersion(kb, Vectors.gaussian(50, 8, 1, true), null);
        String v2 = EmbeddingsWriter.writeVersion(kb, Vectors.gaussian(50, 8, 2, true), null);
        assertEquals("emb-00001", v1);
        assertEquals("emb-00002", v2);
        Embeddings e1 = Embeddings.open(kb, v1);
        Embeddings e2 = Embeddings.open(kb, v2);
        Indexes.build(e1, "hnsw", new HnswIndex.Params(8, 50, 50, 1));
        // copying v1's index next to v2's vectors must be refused, not silently used
        Path stolen = e2.dir().resolve(Indexes.HNSW_DIR);
        Files.createDirectories(stolen);
        try (var s = Files.list(e1.dir().resolve(Indexes.HNSW_DIR))) {
            for (Path f : (Iterable<Path>) s::iterator) Files.copy(f, stolen.resolve(f.getFileName()));
        }
        UserException e = assertThrows(UserException.class, () -> Indexes.open(e2, "hnsw"));
        assertTrue(e.getMessage().contains("built for other embeddings"), e.getMessage());
        // rebuilding replaces it
        Indexes.build(e2, "hnsw", new HnswIndex.Params(8, 50, 50, 1));
        try (VectorIndex idx = Indexes.open(e2, "hnsw")) {
            assertEquals(50, idx.size());
        }
    }
}
