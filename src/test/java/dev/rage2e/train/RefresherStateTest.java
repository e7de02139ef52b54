package dev.rage2e.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rage2e.index.HnswIndex;
import dev.rage2e.index.KbIndexBuilder;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.testutil.TinyRag;
import dev.rage2e.train.refresh.AsyncKbRefresher;
import dev.rage2e.train.refresh.WeightsSnapshot;
import dev.rage2e.weights.HostTensor;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The refresher's running/ready state after a failed refresh (a real failure: a snapshot without weights). */
class RefresherStateTest {
    @TempDir
    Path tmp;

    @Test
    void aSnapshotHoldsTheWeightsOfWhenItWasTakenOnceCopiedBeforeTheUpdate() throws Exception {
        TinyRag t = TinyRag.create(tmp, 2, 2, 0.0f);
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(t.encoder, m);
                WeightsSnapshot.Arena arena = new WeightsSnapshot.Arena(enc.params)) {
            for (int round = 0; round < 2; round++) { // the second round reuses the arena
                Map<String, HostTensor> before = enc.params.toHost();
                WeightsSnapshot s = WeightsSnapshot.of(enc.params, arena);
                Thread copier = new Thread(s::copy); // the refresher's thread
                copier.start();
                s.awaitCopied(); // the trainer, before its update
                copier.join();
                for (var p : enc.params.parameters().values()) p.addi(1f); // "the update"
                Map<String, HostTensor> got = s.host();
                assertEquals(before.keySet(), got.keySet());
                for (String k : before.keySet()) {
                    assertTrue(
                            java.util.Arrays.equals(
                                    before.get(k).toFloats(), got.get(k).toFloats()),
                            "round " + round + ": " + k);
                }
                s.close();
            }
        }
    }

    @Test
    void aFailedRefreshDoesNotLetTwoRefreshesRunOrOrphanAVersion() throws Exception {
        TinyRag t = TinyRag.create(tmp, 4, 12, 0.0f);
        KnowledgeBase kb = KnowledgeBase.open(t.kb);
        Map<String, HostTensor> good;
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(t.encoder, m)) {
            good = enc.params.toHost();
        }
        CountDownLatch release = new CountDownLatch(1);
        MetricsLog metrics = new MetricsLog(tmp.resolve("metrics.jsonl"));
        try (KbRetriever retriever = KbRetriever.open(kb, "flat");
                AsyncKbRefresher refresher = new AsyncKbRefresher(
                        new KbIndexBuilder(
                                retriever,
                                "flat",
                                new HnswIndex.Params(16, 50, 50, 1),
                                new EmbeddingsWriter.Options(8, 64, 0, 1, null),
                                false),
                        w -> {
                            EncoderModel e = EncoderModel.fromWeights(t.encoder, w); // no weights: throws
                            try {
                                release.await(); // hold the good refresh "running"
                            } catch (InterruptedException ex) {
                                Thread.currentThread().interrupt();
                            }
                            return e;
                        },
                        metrics,
                        1,
                        null,
                        2)) {
            assertTrue(refresher.trySnapshot(1, WeightsSnapshot.ofHost(Map.of())));
            refresher.awaitReady(); // the failure is built (reported nowhere yet)
            boolean second = refresher.trySnapshot(2, WeightsSnapshot.ofHost(good));
            var failed = refresher.publishIfReady(3).orElseThrow();
            assertNotNull(failed.error(), "the failure is reported between two steps");
            boolean third = refresher.trySnapshot(4, WeightsSnapshot.ofHost(good));
            // with the worker clearing "running" on failure, 2 started, the
            // report of 1 marked it idle and 4 started too
            assertFalse(second && third, "two refreshes in flight at once: 2=" + second + " 4=" + third);
            assertTrue(third, "after the failure was reported a new refresh starts");
            assertFalse(refresher.trySnapshot(5, WeightsSnapshot.ofHost(good)), "skipped while 4 runs");
            release.countDown();
            refresher.awaitReady();
            var ok = refresher.publishIfReady(6).orElseThrow();
            assertEquals(null, ok.error());
            assertEquals(ok.version(), retriever.version());
            assertFalse(refresher.running());
        }
        // the initial version and the one refresh: nothing built and forgotten
        assertEquals(2, KbVersions.list(t.kb).size(), KbVersions.list(t.kb).toString());
    }
}
