package dev.rage2e.scaleout.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KbBuilder;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * KB encoding on a real standalone Spark cluster: Spark's {@code local-cluster[2,1,1024]} starts a standalone master
 * and two workers in this JVM, and each worker launches its executor as a separate JVM (the test JVM's classpath, as a
 * cluster's executors get the project's jars). The encoder snapshot, the tasks and the shard files cross process
 * boundaries as on a real cluster, which {@code local[N]} (tasks in the driver JVM) cannot show.
 */
class SparkClusterEncodeTest {
    @TempDir
    Path tmp;

    @Test
    void executorsInSeparateJvmsEncodeWhatTheLocalEncoderWrites() throws Exception {
        Path encoderDir = dev.rage2e.scaleout.TestCluster.minilm();
        Path one = dev.rage2e.scaleout.TestCluster.oneArticle(Files.createDirectories(tmp.resolve("src")));
        KbBuilder.build(List.of(one), tmp.resolve("kb"), 100);
        KnowledgeBase kb = KnowledgeBase.open(tmp.resolve("kb"));
        // the worker launches executors with Spark's launcher, which wants a
        // Spark home: an empty one (no jars of its own)
        Path home = tmp.resolve("spark-home");
        Files.createDirectories(home.resolve("jars"));
        Files.createDirectories(home.resolve("launcher/target/scala-2.13"));
        SparkConf conf = new SparkConf()
                .setMaster("local-cluster[2,1,1024]")
                .setAppName("SparkClusterEncodeTest")
                .set("spark.ui.enabled", "false")
                .set("spark.driver.host", "127.0.0.1")
                .set("spark.testing", "true")
                .set("spark.test.home", home.toString())
                .set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
                .set(
                        "spark.executor.extraJavaOptions",
                        "-Dai.djl.offline=true -Dai.djl.default_engine=PyTorch -Drag.precision.force=fp32");
        System.setProperty("spark.test.home", home.toString());
        System.setProperty("spark.testing", "true");
        EmbeddingsWriter.Options opt = new EmbeddingsWriter.Options(16, 128, 0, 1, null);
        JavaSparkContext sc = new JavaSparkContext(conf);
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(encoderDir, m)) {
            EncoderIdentity id = EncoderIdentity.ofDirectory(enc);
            String local = EmbeddingsWriter.encode(kb, enc, id, opt).version();
            long t0 = System.nanoTime();
            EmbeddingsWriter.Result r = SparkEncoder.using(sc, 2, System.err).encode(kb, encoderDir, id, opt);
            System.err.printf(
                    "local-cluster encode: %d passages in %.1f s%n",
                    r.passagesEncoded(), (System.nanoTime() - t0) / 1e9);
            assertEquals(kb.size(), r.passagesEncoded());
            Embeddings a = Embeddings.open(kb, local), b = Embeddings.open(kb, r.version());
            double maxDiff = dev.rage2e.scaleout.TestCluster.maxRowDiff(a, b);
            assertTrue(maxDiff <= 1e-5, "max |diff| " + maxDiff);
            b.verify();
            // the tasks ran in the executors' JVMs, not in this one
            List<String> execs = sc.sc().getExecutorIds() == null
                    ? List.of()
                    : scala.jdk.javaapi.CollectionConverters.asJava(sc.sc().getExecutorIds());
            assertEquals(2, execs.size(), "executors: " + execs);
        } finally {
            sc.stop();
        }
    }
}
