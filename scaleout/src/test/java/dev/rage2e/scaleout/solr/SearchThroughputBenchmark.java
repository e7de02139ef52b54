package dev.rage2e.scaleout.solr;

import ai.djl.ndarray.NDManager;
import dev.rage2e.eval.RetrievalEval;
import dev.rage2e.index.HnswIndex;
import dev.rage2e.index.Indexes;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.index.ScoredPassage;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.qa.QaExample;
import dev.rage2e.qa.Split;
import dev.rage2e.util.Json;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A benchmark, not a test (skipped unless -Drag.bench=true): queries/s and recall@1/5/20 of the exact flat index, the
 * local Lucene HNSW index and a 2-node, 2-shard SolrCloud collection (the shared test cluster) over one KB's current
 * embeddings, for the same pre-encoded questions in batches of 64 (question encoding excluded: it is the same for all
 * three). Run from {@code scaleout/}, with a KB encoded by {@code -Drag.bench.encoder} (default the test's MiniLM):
 * {@code mvn -o -q test -Dtest=SearchThroughputBenchmark -Drag.bench=true -Drag.bench.kb=KB
 * [-Drag.bench.split=../../shared/data/splits-squad-kb.json -Drag.bench.part=test]}
 */
class SearchThroughputBenchmark {
    static final int K = 20, BATCH = 64, REPEAT = 3;

    @Test
    void flatHnswAndCluster() throws Exception {
        Assumptions.assumeTrue(Boolean.getBoolean("rag.bench"), "benchmark: run with -Drag.bench=true");
        KnowledgeBase kb = KnowledgeBase.open(Path.of(System.getProperty("rag.bench.kb")));
        Split split =
                Split.load(Path.of(System.getProperty("rag.bench.split", "../../shared/data/splits-squad-kb.json")));
        List<QaExample> questions = split.questions(System.getProperty("rag.bench.part", "test"));
        Path encoderDir = System.getProperty("rag.bench.encoder") != null
                ? Path.of(System.getProperty("rag.bench.encoder"))
                : dev.rage2e.scaleout.TestCluster.minilm();
        float[][] vecs;
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(encoderDir, m)) {
            List<String> texts = new ArrayList<>();
            for (QaExample q : questions) texts.add(q.question());
            vecs = enc.encodeIds(enc.tokenize(texts, true, 48), 32, null);
        }
        Embeddings emb = Embeddings.open(kb, KbVersions.requireCurrent(kb.dir()));
        HnswIndex.Params params = new HnswIndex.Params(32, 100, 100, 2); // rag index build's defaults
        long h0 = System.nanoTime();
        Indexes.build(emb, "hnsw", params);
        double hnswBuild = (System.nanoTime() - h0) / 1e9;
        String solr = "solr:" + dev.rage2e.scaleout.TestCluster.solrUrl();
        long s0 = System.nanoTime();
        Indexes.build(emb, solr, params);
        double solrBuild = (System.nanoTime() - s0) / 1e9;

        var out = Json.MAPPER.createObjectNode();
        out.put("bench", "search");
        out.put("passages", emb.count());
        out.put("dim", emb.dim());
        out.put("questions", questions.size());
        out.put("k", K);
        out.put("batch", BATCH);
        out.put("hnsw_build_s", hnswBuild);
        out.put("solr_build_s", solrBuild);
        for (String type : new String[] {"flat", "hnsw", solr}) {
            try (KbRetriever r = KbRetriever.open(kb, type)) {
                List<List<ScoredPassage>> ranked = null;
                double best = Double.MAX_VALUE;
                for (int rep = 0; rep < REPEAT; rep++) {
                    long t0 = System.nanoTime();
                    ranked = searchAll(r, vecs);
                    best = Math.min(best, (System.nanoTime() - t0) / 1e9);
                }
                RetrievalEval.Report rep = RetrievalEval.score(questions, ranked, new int[] {1, 5, 20});
                var o = out.putObject(type.startsWith("solr:") ? "solr_2_nodes_2_shards" : type);
                o.put("queries_per_s", Math.round(vecs.length / best * 10) / 10.0);
                o.put("recall@1", rep.recall()[0]);
                o.put("recall@5", rep.recall()[1]);
                o.put("recall@20", rep.recall()[2]);
                System.err.printf(
                        Locale.ROOT,
                        "%s: %.1f queries/s, recall@1/5/20 %s%n",
                        type,
                        vecs.length / best,
                        Arrays.toString(rep.recall()));
            }
        }
        System.out.println(Json.write(out));
    }

    private static List<List<ScoredPassage>> searchAll(KbRetriever r, float[][] vecs) {
        List<List<ScoredPassage>> ranked = new ArrayList<>(vecs.length);
        for (int start = 0; start < vecs.length; start += BATCH)
            ranked.addAll(r.searchPassages(Arrays.copyOfRange(vecs, start, Math.min(vecs.length, start + BATCH)), K)
                    .hits());
        return ranked;
    }
}
