package dev.rage2e.scaleout.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rage2e.index.IndexBuilder;
import dev.rage2e.index.KbIndexBuilder;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KbBuilder;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * KB encoding as a real Spark job (local[2], executors in this JVM): the version it commits holds what the
 * local encoder writes, and the refresher's builder publishes it like a local refresh.
 */
class SparkEncoderTest {
    @TempDir
    static Path tmp;

    static Path encoderDir;
    static JavaSparkContext sc;
    static final EmbeddingsWriter.Options OPT = new EmbeddingsWriter.Options(16, 128, 0, 1, null);

    @BeforeAll
    static void setUp() throws Exception {
        encoderDir = dev.rage2e.scaleout.TestCluster.minilm();
        sc = new JavaSparkContext(new SparkConf()
                .setMaster("local[2]")
                .setAppName("SparkEncoderTest")
                .set("spark.ui.enabled", "false")
                .set("spark.driver.host", "127.0.0.1"));
    }

    @AfterAll
    static void tearDown() {
        if (sc != null) sc.stop();
    }

    /** A KB of the demo data's first article (35 passages). */
    static KnowledgeBase kb(String name) throws Exception {
        Path one = dev.rage2e.scaleout.TestCluster.oneArticle(Files.createDirectories(tmp.resolve(name + "-src")));
        Path dir = tmp.resolve(name);
        KbBuilder.build(List.of(one), dir, 100);
        return KnowledgeBase.open(dir);
    }

    @Test
    void sparkVersionHoldsTheLocalEncodersRows() throws Exception {
        KnowledgeBase kb = kb("kb-rows");
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(encoderDir, m)) {
            EncoderIdentity id = EncoderIdentity.ofDirectory(enc);
            String local = EmbeddingsWriter.encode(kb, enc, id, OPT).version();
            EmbeddingsWriter.Result r = SparkEncoder.using(sc, 3, System.err).encode(kb, encoderDir, id, OPT);
            assertNotEquals(local, r.version());
            assertEquals(kb.size(), r.passagesEncoded());
            Embeddings a = Embeddings.open(kb, local), b = Embeddings.open(kb, r.version());
            assertEquals(a.count(), b.count());
            assertEquals(a.meta().path("encoder"), b.meta().path("encoder"), "same encoder identity recorded");
            double maxDiff = 0;
            int sameRows = 0;
            for (int i = 0; i < a.count(); i++) {
                float[] x = a.row(i), y = b.row(i);
                boolean same = true;
                for (int j = 0; j < x.length; j++) {
                    maxDiff = Math.max(maxDiff, Math.abs(x[j] - y[j]));
                    same &= x[j] == y[j];
                }
                if (same) sameRows++;
            }
            System.err.printf(
                    "spark vs local: %d passages, %d rows bit-identical, max |diff| %.2e%n",
                    a.count(), sameRows, maxDiff);
            // rows in other batches get other padding: equal up to float rounding (the stated tolerance)
            assertTrue(maxDiff <= 1e-5, "max |diff| " + maxDiff);
            b.verify(); // the merged file's sha256 matches its meta
            try (var files = Files.list(kb.dir())) {
                assertTrue(
                        files.noneMatch(p -> p.getFileName().toString().startsWith("shards-")),
                        "the shard set is merged and removed");
            }
        }
    }

    @Test
    void refreshBuilderEncodesOnSparkAndPublishesAtomically() throws Exception {
        KnowledgeBase kb = kb("kb-refresh");
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(encoderDir, m)) {
            KbVersions.publish(
                    kb.dir(),
                    EmbeddingsWriter.encode(kb, enc, EncoderIdentity.ofDirectory(enc), OPT)
                            .version());
            try (KbRetriever retriever = KbRetriever.open(kb, "flat")) {
                String before = retriever.version();
                KbIndexBuilder builder = new KbIndexBuilder(retriever, "flat", null, OPT, false)
                        .encodeWith(SparkEncoder.using(sc, 2, System.err));
                IndexBuilder.Built built = builder.build(enc, "context-encoder@step-7");
                assertEquals(before, retriever.version(), "built, not yet published");
                builder.publish(built);
                assertEquals(built.version(), retriever.version());
                assertEquals(
                        "context-encoder@step-7",
                        Embeddings.open(kb, built.version())
                                .meta()
                                .path("encoder")
                                .path("label")
                                .asText());
                try (var files = Files.list(kb.dir())) {
                    assertTrue(
                            files.noneMatch(p -> p.getFileName().toString().startsWith("encoder-")),
                            "the shipped snapshot is removed");
                }
                float[][] q = {Embeddings.open(kb, before).row(3)};
                assertArrayEquals(
                        new int[] {3},
                        new int[] {retriever.acquire().search(q, 1).ids()[0][0]});
            }
        }
    }

    @Test
    void aFailedJobLeavesThePublishedVersionAndNoShards() throws Exception {
        KnowledgeBase kb = kb("kb-fail");
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(encoderDir, m)) {
            EncoderIdentity id = EncoderIdentity.ofDirectory(enc);
            String v = EmbeddingsWriter.encode(kb, enc, id, OPT).version();
            KbVersions.publish(kb.dir(), v);
            Path broken = tmp.resolve("broken-encoder");
            AtomicFiles.deleteTree(broken);
            Files.createDirectories(broken);
            Files.writeString(broken.resolve("config.json"), "{not json");
            IOException e = assertThrows(
                    IOException.class,
                    () -> SparkEncoder.using(sc, 2, System.err).encode(kb, broken, id, OPT));
            assertTrue(e.getMessage().contains("published version is unchanged"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
            assertEquals(v, KbVersions.current(kb.dir()).orElseThrow());
            try (var files = Files.list(kb.dir())) {
                assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith("shards-")));
            }
        }
    }

    @Test
    void anUnreachableMasterIsAOneLineError() {
        UserException e = assertThrows(UserException.class, () -> SparkEncoder.checkReachable("spark://127.0.0.1:1"));
        assertTrue(e.getMessage().startsWith("--spark-master spark://127.0.0.1:1: cannot connect"), e.getMessage());
        assertThrows(UserException.class, () -> SparkEncoder.checkReachable("spark://nohostport"));
    }

    @Test
    void submitOutsideSparkSubmitIsAOneLineError() {
        // spark-submit sets spark.master for its driver; this JVM's contexts are configured in code
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("spark.master") == null);
        UserException e = assertThrows(UserException.class, () -> SparkEncoder.start(SparkEncoder.SUBMIT, 0, null));
        assertTrue(e.getMessage().startsWith("--spark submit: no spark.master set"), e.getMessage());
    }
}
