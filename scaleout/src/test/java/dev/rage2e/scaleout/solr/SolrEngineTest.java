package dev.rage2e.scaleout.solr;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rage2e.eval.RetrievalEval;
import dev.rage2e.index.HnswIndex;
import dev.rage2e.index.Indexes;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KbBuilder;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.qa.QaExample;
import dev.rage2e.qa.SquadReader;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.solr.client.solrj.SolrClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The KB's index on a real 2-node SolrCloud cluster (the shared {@link dev.rage2e.scaleout.TestCluster}) with 2 shards
 * per collection: recall against the exact flat index, an alias swap
 * under concurrent searches, and the one-line errors.
 */
class SolrEngineTest {
    @TempDir
    static Path tmp;

    static String url;
    static KnowledgeBase kb;
    static EncoderModel questionEncoder;
    static NDManager manager;
    static List<QaExample> questions;

    @BeforeAll
    static void setUp() throws Exception {
        url = dev.rage2e.scaleout.TestCluster.solrUrl();
        Path encoderDir = dev.rage2e.scaleout.TestCluster.minilm();
        Path squad = Path.of("..", "data", "demo", "squad-demo.json");
        KbBuilder.build(List.of(squad), tmp.resolve("demo-kb"), 100);
        kb = KnowledgeBase.open(tmp.resolve("demo-kb"));
        manager = NDManager.newBaseManager();
        questionEncoder = EncoderModel.load(encoderDir, manager);
        String v = EmbeddingsWriter.encode(
                        kb,
                        questionEncoder,
                        EncoderIdentity.ofDirectory(questionEncoder),
                        new EmbeddingsWriter.Options(32, 256, 0, 1, null))
                .version();
        KbVersions.publish(kb.dir(), v);
        questions = SquadReader.read(squad);
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (questionEncoder != null) questionEncoder.close();
        if (manager != null) manager.close();
    }

    static String type() {
        return "solr:" + url;
    }

    @Test
    void recallOnTheClusterMatchesTheExactFlatIndex() throws Exception {
        Embeddings emb = Embeddings.open(kb, KbVersions.requireCurrent(kb.dir()));
        Indexes.build(emb, type(), new HnswIndex.Params(16, 100, 100, 2));
        int[] ks = {1, 5, 20};
        RetrievalEval.Report flat, solr;
        try (KbRetriever r = KbRetriever.open(kb, "flat")) {
            flat = RetrievalEval.run(r, questionEncoder, questions, ks, 32, 48, null);
        }
        try (KbRetriever r = KbRetriever.open(kb, type())) {
            solr = RetrievalEval.run(r, questionEncoder, questions, ks, 32, 48, null);
        }
        System.err.printf(
                "recall@1/5/20 over %d questions: flat %s, solr %s%n",
                flat.questions(), java.util.Arrays.toString(flat.recall()), java.util.Arrays.toString(solr.recall()));
        for (int i = 0; i < ks.length; i++) assertEquals(flat.recall()[i], solr.recall()[i], 0.01, "recall@" + ks[i]);
    }

    @Test
    void aliasSwapUnderConcurrentSearchesNeverMixesVersions() throws Exception {
        // two versions whose answers differ for every query: v2 holds v1's rows in reverse passage order
        Embeddings v1 = Embeddings.open(kb, KbVersions.requireCurrent(kb.dir()));
        float[][] rows = new float[v1.count()][];
        for (int i = 0; i < rows.length; i++) rows[i] = v1.row(rows.length - 1 - i);
        Embeddings v2 = Embeddings.open(
                kb,
                EmbeddingsWriter.writeVersion(
                        kb, rows, v1.meta().path("encoder").deepCopy()));
        SolrEngine engine = new SolrEngine();
        HnswIndex.Params p = new HnswIndex.Params(16, 100, 100, 2);
        engine.build(v1, url, p);
        engine.build(v2, url, p);
        engine.publish(v1, url, true);
        float[][] q = new float[8][];
        for (int i = 0; i < q.length; i++) q[i] = v1.row(i * 7);
        SolrClient c = SolrEngine.client(url);
        // what each version's own collection answers, in the cluster's order
        // (v2's ids are other passages for the same vectors)
        int[][] want1 = new int[q.length][], want2 = new int[q.length][];
        SolrVectorIndex a = new SolrVectorIndex(c, SolrEngine.collection(v1), v1, 100),
                b = new SolrVectorIndex(c, SolrEngine.collection(v2), v2, 100);
        for (int i = 0; i < q.length; i++) {
            want1[i] = a.candidates(q[i], 10);
            want2[i] = b.candidates(q[i], 10);
            assertTrue(!java.util.Arrays.equals(want1[i], want2[i]), "the versions answer differently");
        }
        String alias = SolrEngine.alias(v1);
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        List<Future<int[]>> searchers = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            searchers.add(pool.submit(() -> {
                int old = 0, fresh = 0;
                SolrVectorIndex viaAlias = new SolrVectorIndex(c, alias, v1, 100);
                while (!stop.get()) {
                    for (int i = 0; i < q.length; i++) {
                        int[] got = viaAlias.candidates(q[i], 10); // one request: resolved to one collection, whole
                        boolean isOld = java.util.Arrays.equals(got, want1[i]),
                                isNew = java.util.Arrays.equals(got, want2[i]);
                        assertTrue(
                                isOld || isNew,
                                "a search saw neither version whole: " + java.util.Arrays.toString(got));
                        if (isOld) old++;
                        else fresh++;
                    }
                }
                return new int[] {old, fresh};
            }));
        }
        Thread.sleep(1500);
        engine.publish(v2, url, true);
        assertEquals(SolrEngine.collection(v2), SolrEngine.aliased(c, alias));
        Thread.sleep(1500);
        stop.set(true);
        int old = 0, fresh = 0;
        for (Future<int[]> f : searchers) {
            int[] n = f.get();
            old += n[0];
            fresh += n[1];
        }
        pool.shutdown();
        System.err.printf("searches during the swap: %d saw v1, %d saw v2%n", old, fresh);
        assertTrue(old > 0 && fresh > 0, "searches ran on both sides of the swap: " + old + "/" + fresh);
    }

    @Test
    void aKbRebuiltUnderTheSameNameGetsItsOwnCollection() throws Exception {
        // two KBs of the same passages in folders of the same name: one alias, and both number from emb-00001; the
        // second's vectors are the first's in reverse passage order, as another encoder would give other vectors
        Path squad = Path.of("..", "data", "demo", "squad-demo.json");
        Embeddings source = Embeddings.open(kb, KbVersions.requireCurrent(kb.dir()));
        float[][] rows = new float[source.count()][], reversed = new float[source.count()][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = source.row(i);
            reversed[i] = source.row(rows.length - 1 - i);
        }
        Embeddings[] twins = new Embeddings[2];
        for (int t = 0; t < 2; t++) {
            Path dir = tmp.resolve("rebuilt-" + t).resolve("twin-kb");
            KbBuilder.build(List.of(squad), dir, 100);
            KnowledgeBase k = KnowledgeBase.open(dir);
            String v = EmbeddingsWriter.writeVersion(
                    k, t == 0 ? rows : reversed, source.meta().path("encoder").deepCopy());
            KbVersions.publish(k.dir(), v);
            twins[t] = Embeddings.open(k, v);
        }
        assertEquals(twins[0].version(), twins[1].version());
        assertEquals(SolrEngine.alias(twins[0]), SolrEngine.alias(twins[1]));
        assertTrue(!SolrEngine.collection(twins[0]).equals(SolrEngine.collection(twins[1])));
        assertEquals(
                Long.parseLong(twins[1].version().substring(4)),
                SolrEngine.versionNumber(SolrEngine.collection(twins[1])));
        SolrEngine engine = new SolrEngine();
        HnswIndex.Params p = new HnswIndex.Params(16, 100, 100, 2);
        engine.build(twins[0], url, p);
        engine.publish(twins[0], url, true);
        engine.build(twins[1], url, p);
        engine.publish(twins[1], url, true);
        SolrClient c = SolrEngine.client(url);
        assertEquals(SolrEngine.collection(twins[1]), SolrEngine.aliased(c, SolrEngine.alias(twins[1])));
        // the second KB's collection holds its own vectors: each row's nearest neighbour is itself (or its copy)
        SolrVectorIndex second = new SolrVectorIndex(c, SolrEngine.collection(twins[1]), twins[1], 100);
        for (int i = 0; i < twins[1].count(); i += 37) {
            int got = second.candidates(twins[1].row(i), 1)[0];
            float dot = 0;
            for (int d = 0; d < twins[1].dim(); d++) dot += twins[1].row(got)[d] * twins[1].row(i)[d];
            assertTrue(dot > 0.999f, "passage " + i + ": the cluster's nearest is " + got + " (q.d " + dot + ")");
        }
    }

    @Test
    void clusterErrorsAreOneLine() throws Exception {
        Embeddings emb = Embeddings.open(kb, KbVersions.requireCurrent(kb.dir()));
        UserException e =
                assertThrows(UserException.class, () -> new SolrEngine().open(emb, "http://127.0.0.1:1/solr"));
        assertTrue(e.getMessage().startsWith("solr http://127.0.0.1:1/solr: "), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), e.getMessage());
        // a collection of another dimension under this version's name
        float[][] small = new float[kb.size()][];
        for (int i = 0; i < small.length; i++) small[i] = java.util.Arrays.copyOf(emb.row(i), 8);
        Embeddings other = Embeddings.open(
                kb,
                EmbeddingsWriter.writeVersion(
                        kb, small, emb.meta().path("encoder").deepCopy()));
        new SolrEngine().build(other, url, new HnswIndex.Params(16, 100, 100, 2));
        UserException d = assertThrows(
                UserException.class,
                () -> SolrEngine.requireDim(
                        SolrEngine.client(url), SolrEngine.collection(other), emb.dim(), emb.dir()));
        assertTrue(
                d.getMessage().contains("holds 8-dim vectors") && d.getMessage().contains("has 384"), d.getMessage());
        assertArrayEquals(
                new int[] {384}, new int[] {Embeddings.open(kb, emb.version()).dim()});
    }
}
