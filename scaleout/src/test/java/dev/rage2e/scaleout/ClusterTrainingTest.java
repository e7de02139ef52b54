package dev.rage2e.scaleout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.cli.Main;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.KbBuilder;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.util.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End-to-end RAG training with both engines for real: the KB re-encoded by a Spark job (local[2]) at every
 * refresh, retrieval served by a 2-node SolrCloud cluster whose alias follows each published version.
 */
class ClusterTrainingTest {
    @TempDir
    Path tmp;

    @Test
    void endToEndTrainingRefreshesThroughSparkAndSolr() throws Exception {
        {
            String url = TestCluster.solrUrl();
            Path enc = TestCluster.minilm();
            Path gen = tmp.resolve("span-reader");
            assertEquals(
                    0,
                    Main.run(
                            "models",
                            "init-generator",
                            "--type",
                            "span",
                            "--from",
                            enc.toString(),
                            "--out",
                            gen.toString()));

            // one article of the demo data: its 35 passages are the KB, its questions the training set
            Path squad = TestCluster.oneArticle(tmp);
            Path kbDir = tmp.resolve("kb");
            KbBuilder.build(List.of(squad), kbDir, 100);
            assertEquals(
                    0,
                    Main.run(
                            "kb",
                            "encode",
                            "--kb",
                            kbDir.toString(),
                            "--encoder",
                            enc.toString(),
                            "--spark",
                            "local[2]"));
            assertEquals(0, Main.run("index", "build", "--kb", kbDir.toString(), "--type", "solr", "--solr", url));
            String first = KbVersions.requireCurrent(kbDir);

            Path run = tmp.resolve("run");
            int rc = Main.run(
                    "train",
                    "--mode",
                    "end2end",
                    "--kb",
                    kbDir.toString(),
                    "--question-encoder",
                    enc.toString(),
                    "--generator",
                    gen.toString(),
                    "--train",
                    squad.toString(),
                    "--out",
                    run.toString(),
                    "--max-steps",
                    "4",
                    "--indexing-freq",
                    "2",
                    "--refresh",
                    "spark",
                    "--spark-master",
                    "local[2]",
                    "--index-type",
                    "solr:" + url,
                    "--batch-size",
                    "2",
                    "--n-docs",
                    "3",
                    "--max-combined-length",
                    "192",
                    "--log-every",
                    "0",
                    // the step-2 refresh is published after step 3 whatever the
                    // machine's speed (else 4 quick steps can outrun it)
                    "--refresh-publish-lag",
                    "1",
                    // checkpoint 2 names the first version (step 3 still trains on it):
                    // its collection must outlive two publishes
                    "--checkpoint-every",
                    "2",
                    "--keep-checkpoints",
                    "2");
            assertEquals(0, rc, "rag train failed");

            List<JsonNode> published = new ArrayList<>();
            for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
                JsonNode ev = Json.MAPPER.readTree(line);
                if (ev.path("event").asText().equals("refresh_published")) published.add(ev);
            }
            assertTrue(published.size() >= 2, "refreshes published: " + published.size());
            String now = KbVersions.requireCurrent(kbDir);
            assertNotEquals(first, now, "the trained context encoder's version is current");
            Embeddings current = Embeddings.open(KnowledgeBase.open(kbDir), now);
            assertTrue(current.meta().path("encoder").path("label").asText().startsWith("context-encoder@step-"));
            assertEquals(current.meta().path("shards").asInt(), 2, "encoded in 2 Spark shards");
            var client = dev.rage2e.scaleout.solr.SolrEngineAccess.client(url);
            assertEquals(
                    dev.rage2e.scaleout.solr.SolrEngineAccess.collection(current),
                    dev.rage2e.scaleout.solr.SolrEngineAccess.aliased(
                            client, dev.rage2e.scaleout.solr.SolrEngineAccess.alias(current)),
                    "the cluster's alias follows the published version");
            // collections go with their local versions (the janitor), and every
            // version a checkpoint names keeps its collection
            String alias = dev.rage2e.scaleout.solr.SolrEngineAccess.alias(current);
            java.util.Set<String> colls = new java.util.TreeSet<>();
            for (String c : dev.rage2e.scaleout.solr.SolrEngineAccess.collections(client))
                if (c.startsWith(alias + "_")) colls.add(c);
            java.util.Set<String> named = dev.rage2e.train.refresh.RunVersions.namedByCheckpoints(run);
            assertTrue(named.contains(first), "checkpoint 2 names the first version: " + named);
            for (String v : named) {
                String coll = dev.rage2e.scaleout.solr.SolrEngineAccess.collection(
                        Embeddings.open(KnowledgeBase.open(kbDir), v));
                assertTrue(
                        colls.contains(coll), "a checkpoint names " + v + ": its collection is kept (" + colls + ")");
            }
            for (String c : colls) {
                String v = c.substring(alias.length() + 1); // emb-NNNNN_VECSHA8
                if (v.indexOf('_') >= 0) v = v.substring(0, v.indexOf('_'));
                assertTrue(
                        java.nio.file.Files.isDirectory(kbDir.resolve(v)),
                        "collection " + c + " has its local version");
            }
        }
    }
}
