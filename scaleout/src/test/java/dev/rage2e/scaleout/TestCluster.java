package dev.rage2e.scaleout;

import dev.rage2e.convert.ModelCatalog;
import dev.rage2e.convert.ModelDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.solr.cloud.MiniSolrCloudCluster;

/**
 * What the scale-out tests share within one test JVM, started once: a 2-node SolrCloud cluster
 * (MiniSolrCloudCluster: embedded ZooKeeper and two Jetty nodes; stopped when the JVM exits) and the
 * all-minilm-l6-v2 encoder converted from its Maven jar.
 */
public final class TestCluster {
    private static MiniSolrCloudCluster cluster;
    private static Path minilm;
    private static Path root;

    private TestCluster() {}

    private static synchronized Path root() throws Exception {
        if (root == null) {
            root = Files.createTempDirectory("rag-scaleout-test");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    dev.rage2e.util.AtomicFiles.deleteTree(root);
                } catch (Exception ignored) {
                    // temp files; the OS cleans them eventually
                }
            }));
        }
        return root;
    }

    /** The base URL of the shared 2-node cluster, e.g. http://127.0.0.1:PORT/solr. */
    public static synchronized String solrUrl() throws Exception {
        if (cluster == null) {
            long t0 = System.nanoTime();
            cluster = new MiniSolrCloudCluster.Builder(2, root().resolve("solr")).configure();
            MiniSolrCloudCluster c = cluster;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    c.shutdown();
                } catch (Exception ignored) {
                    // the JVM is exiting
                }
            }));
            System.err.printf("TestCluster: 2-node SolrCloud up in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        }
        return cluster.getJettySolrRunners().get(0).getBaseUrl().toString();
    }

    /** all-minilm-l6-v2 in HF layout (converted once per JVM). */
    public static synchronized Path minilm() throws Exception {
        if (minilm == null) {
            ModelCatalog.Entry e = ModelCatalog.get("all-minilm-l6-v2");
            Path dir = root().resolve("all-minilm-l6-v2");
            ModelDirs.write(ModelCatalog.convert(e, ModelCatalog.resolve(e)), e.settings(), dir, true);
            minilm = dir;
        }
        return minilm;
    }

    /** The largest |difference| between two embeddings versions' rows, element by element. */
    public static double maxRowDiff(dev.rage2e.kb.Embeddings a, dev.rage2e.kb.Embeddings b) {
        double maxDiff = 0;
        for (int i = 0; i < a.count(); i++) {
            float[] x = a.row(i), y = b.row(i);
            for (int j = 0; j < x.length; j++) maxDiff = Math.max(maxDiff, Math.abs(x[j] - y[j]));
        }
        return maxDiff;
    }

    /** The first article of the repo's demo data (35 passages): small enough to encode in seconds. */
    public static Path oneArticle(Path dir) throws Exception {
        var doc = dev.rage2e.util.Json.MAPPER.readTree(
                Path.of("..", "data", "demo", "squad-demo.json").toFile());
        var data = (com.fasterxml.jackson.databind.node.ArrayNode) doc.get("data");
        while (data.size() > 1) data.remove(data.size() - 1);
        Path out = dir.resolve("one-article.json");
        dev.rage2e.util.Json.writeFile(out, doc);
        return out;
    }
}
