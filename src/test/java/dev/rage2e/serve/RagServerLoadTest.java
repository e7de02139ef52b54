package dev.rage2e.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.testutil.TinyRag;
import dev.rage2e.train.Checkpoints;
import dev.rage2e.util.AtomicFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Admission control (503), concurrent requests on one shared model, and hot reload under load, over HTTP. */
class RagServerLoadTest {
    static TinyRag.Trained fx;

    @TempDir
    Path tmp;

    @BeforeAll
    static void fixture() throws Exception {
        fx = TinyRag.trained();
    }

    /** The real retrieval backend behind a gate, so that a request stays in flight until the test lets it go. */
    static final class GatedBackend implements QaBackend {
        final QaBackend inner;
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicInteger entered = new AtomicInteger();

        GatedBackend(QaBackend inner) {
            this.inner = inner;
        }

        @Override
        public ObjectNode answer(String question, int k) {
            entered.incrementAndGet();
            try {
                release.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            return inner.answer(question, k);
        }

        @Override
        public ObjectNode health() {
            return inner.health();
        }

        @Override
        public ObjectNode reload() {
            return inner.reload();
        }

        @Override
        public int defaultK() {
            return inner.defaultK();
        }

        @Override
        public int maxK() {
            return inner.maxK();
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    @Test
    void overloadedServerAnswers503AtOnce() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (RetrievalBackend real = RetrievalBackend.open(fx.kb(), fx.encoder(), "auto", 3, 10)) {
            // 1 worker, no queue: a second request while one runs is refused
            GatedBackend gated = new GatedBackend(real);
            try (RagServer server = new RagServer(gated, 1, 0).start("127.0.0.1", 0)) {
                Http http = new Http(server.port());
                Future<Http.Response> slow = pool.submit(() -> http.ask("the river", null));
                waitFor(() -> gated.entered.get() == 1);
                Http.Response busy = http.ask("the city", null);
                assertEquals(503, busy.status(), busy.body());
                assertEquals("1", busy.raw().headers().firstValue("retry-after").orElse(null));
                assertTrue(busy.json().get("error").asText().contains("busy"));
                gated.release.countDown();
                assertEquals(200, slow.get(60, TimeUnit.SECONDS).status());
                assertEquals(200, http.ask("the city", null).status(), "accepted again once the worker is free");
                JsonNode h = http.get("api/health").json();
                assertEquals(1, h.get("rejected_busy").asInt());
                assertEquals(2, h.get("served").asInt());
            }
            // 1 worker, queue 1: the second waits, the third is refused, then both waiting ones finish
            GatedBackend gated2 = new GatedBackend(real);
            try (RagServer server = new RagServer(gated2, 1, 1).start("127.0.0.1", 0)) {
                Http http = new Http(server.port());
                Future<Http.Response> first = pool.submit(() -> http.ask("the river", null));
                waitFor(() -> gated2.entered.get() == 1);
                Future<Http.Response> second = pool.submit(() -> http.ask("the city", null));
                waitFor(() -> http.get("api/health").json().get("in_flight").asInt() == 2);
                assertEquals(503, http.ask("tesla", null).status());
                gated2.release.countDown();
                assertEquals(200, first.get(60, TimeUnit.SECONDS).status());
                Http.Response r2 = second.get(60, TimeUnit.SECONDS);
                assertEquals(200, r2.status());
                assertTrue(r2.json().get("timings").get("queue_ms").asDouble() > 0);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** 16 client threads x 3 requests on one shared model give exactly the sequential answers, and nothing leaks. */
    @Test
    void concurrentAnswersEqualSequentialOnes() throws Exception {
        int threads = 16, perThread = 3, distinct = 8;
        try (RagBackend rag = RagBackend.open(fx.run(), null, RagBackend.Options.defaults());
                RagServer server = new RagServer(rag, 2, 32).start("127.0.0.1", 0)) {
            Http http = new Http(server.port());
            List<JsonNode> sequential = new ArrayList<>();
            for (int i = 0; i < distinct; i++)
                sequential.add(ok(http.ask(fx.questions().get(i), null)));
            int arraysBefore = rag.managedArrays();
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<List<JsonNode>>> futures = new ArrayList<>();
            CountDownLatch go = new CountDownLatch(1);
            for (int t = 0; t < threads; t++) {
                int tt = t;
                futures.add(pool.submit(() -> {
                    go.await();
                    List<JsonNode> out = new ArrayList<>();
                    for (int r = 0; r < perThread; r++)
                        out.add(ok(http.ask(fx.questions().get((tt * perThread + r) % distinct), null)));
                    return out;
                }));
            }
            long t0 = System.nanoTime();
            go.countDown();
            double maxDiff = 0;
            for (int t = 0; t < threads; t++) {
                List<JsonNode> got = futures.get(t).get(120, TimeUnit.SECONDS);
                for (int r = 0; r < perThread; r++) {
                    JsonNode want = sequential.get((t * perThread + r) % distinct), a = got.get(r);
                    assertEquals(want.get("question"), a.get("question"));
                    assertEquals(want.get("answer"), a.get("answer"), "answer under concurrency");
                    for (int j = 0; j < want.get("passages").size(); j++) {
                        JsonNode pw = want.get("passages").get(j),
                                pa = a.get("passages").get(j);
                        assertEquals(pw.get("id"), pa.get("id"));
                        maxDiff = Math.max(
                                maxDiff,
                                Math.abs(pw.get("posterior").asDouble()
                                        - pa.get("posterior").asDouble()));
                        maxDiff = Math.max(
                                maxDiff,
                                Math.abs(pw.get("score").asDouble()
                                        - pa.get("score").asDouble()));
                    }
                }
            }
            pool.shutdown();
            System.err.printf(
                    "concurrent: %d requests from %d threads in %.2f s, max |score/posterior diff| vs "
                            + "sequential %.2g%n",
                    threads * perThread, threads, (System.nanoTime() - t0) / 1e9, maxDiff);
            assertEquals(0.0, maxDiff, "scores/posteriors must be bit-identical to the sequential run's");
            assertEquals(arraysBefore, rag.managedArrays(), "NDArrays left behind in the model's manager by requests");
            JsonNode h = http.get("api/health").json();
            assertEquals(distinct + threads * perThread, h.get("served").asInt());
            assertEquals(0, h.get("rejected_busy").asInt());
        }
    }

    /** Clients keep asking while a new checkpoint and a new embeddings version are swapped in: no request fails. */
    @Test
    void reloadDuringLoadFailsNoRequest() throws Exception {
        Path run = TinyRag.copyTree(fx.run(), tmp.resolve("run"));
        Path kb = TinyRag.copyTree(fx.kb(), tmp.resolve("kb"));
        AtomicFiles.writeString(run.resolve(Checkpoints.LATEST), Checkpoints.name(2) + "\n");
        String oldVersion = dev.rage2e.kb.KbVersions.requireCurrent(kb);
        try (RagBackend rag = RagBackend.open(run, kb, RagBackend.Options.defaults());
                RagServer server = new RagServer(rag, 2, 32).start("127.0.0.1", 0)) {
            Http http = new Http(server.port());
            assertEquals(2, http.get("api/health").json().get("step").asInt());
            int clients = 6;
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger answered = new AtomicInteger();
            List<List<JsonNode>> seen = new ArrayList<>();
            List<Thread> threads = new ArrayList<>();
            List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
            for (int c = 0; c < clients; c++) {
                List<JsonNode> mine = Collections.synchronizedList(new ArrayList<>());
                seen.add(mine);
                int cc = c;
                Thread t = new Thread(() -> {
                    try {
                        for (int i = 0; !stop.get(); i++) {
                            mine.add(ok(http.ask(
                                    fx.questions().get((cc + i) % fx.questions().size()), null)));
                            answered.incrementAndGet();
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                });
                threads.add(t);
                t.start();
            }
            // a hostile client mixes malformed requests into the load: each must get a 4xx, never a 5xx or a hang
            AtomicInteger malformed = new AtomicInteger();
            String[] bad = {
                "{not json",
                "[]",
                "{\"question\": \"\"}",
                "{\"question\": 42}",
                "{\"question\": \"q\", \"k\": 0}",
                "{\"question\": \"q\", \"k\": \"five\"}",
                "{\"question\": \"" + "x".repeat(40_000) + "\"}",
                ""
            };
            Thread hostile = new Thread(() -> {
                try {
                    for (int i = 0; !stop.get(); i++) {
                        Http.Response br = http.post("api/answer", bad[i % bad.length]);
                        if (br.status() != 400 && br.status() != 413)
                            throw new AssertionError("malformed request got " + br.status() + ": " + br.body());
                        malformed.incrementAndGet();
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            threads.add(hostile);
            hostile.start();
            Runtime rt = Runtime.getRuntime();
            System.gc();
            long heapBefore = rt.totalMemory() - rt.freeMemory();
            waitFor(() -> answered.get() >= 12);
            // what the trainer does: a new embeddings version published, then a new checkpoint and its `latest` pointer
            String newVersion = TinyRag.encode(kb, fx.encoder(), 64);
            AtomicFiles.writeString(run.resolve(Checkpoints.LATEST), Checkpoints.name(4) + "\n");
            Http.Response r = http.post("api/reload", "");
            assertEquals(200, r.status(), r.body());
            assertTrue(r.json().get("checkpoint_changed").asBoolean());
            assertTrue(r.json().get("embeddings_changed").asBoolean());
            assertEquals(4, r.json().get("step").asInt());
            int atReload = answered.get();
            waitFor(() -> answered.get() >= atReload + 12);
            stop.set(true);
            for (Thread t : threads) t.join(120_000);
            assertTrue(errors.isEmpty(), "failed requests: " + errors);
            int oldSeen = 0, newSeen = 0;
            for (List<JsonNode> mine : seen) {
                int lastStep = 0;
                String lastVersion = oldVersion;
                for (JsonNode a : mine) {
                    int step = a.get("step").asInt();
                    String v = a.get("embeddings_version").asText();
                    assertTrue(
                            step >= lastStep, "a client saw the model go back from step " + lastStep + " to " + step);
                    assertTrue(
                            v.compareTo(lastVersion) >= 0,
                            "a client saw the embeddings go back from " + lastVersion + " to " + v);
                    lastStep = step;
                    lastVersion = v;
                    if (step == 2) oldSeen++;
                    else newSeen++;
                }
                assertEquals(4, mine.get(mine.size() - 1).get("step").asInt());
                assertEquals(
                        newVersion,
                        mine.get(mine.size() - 1).get("embeddings_version").asText());
            }
            System.gc();
            long heapGrowth = (rt.totalMemory() - rt.freeMemory()) - heapBefore;
            System.err.printf(
                    "reload under load: %d answers from step 2, %d from step 4, %d malformed requests "
                            + "rejected, none failed; "
                            + "heap growth %.1f MB%n",
                    oldSeen, newSeen, malformed.get(), heapGrowth / 1e6);
            assertTrue(malformed.get() > 0, "malformed requests were mixed in");
            assertTrue(heapGrowth < 256L << 20, "bounded memory: heap grew by " + heapGrowth + " bytes");
            assertTrue(oldSeen > 0 && newSeen > 0);
            JsonNode h = http.get("api/health").json();
            assertEquals(1, h.get("models_open").asInt(), "the replaced model is closed after its last request");
            assertEquals(1, h.get("reloads").asInt());
        }
    }

    /** --watch: a moved `latest` pointer is picked up without any request to /api/reload. */
    @Test
    void watcherFollowsTheRunFolder() throws Exception {
        Path run = TinyRag.copyTree(fx.run(), tmp.resolve("run"));
        AtomicFiles.writeString(run.resolve(Checkpoints.LATEST), Checkpoints.name(2) + "\n");
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        try (RagBackend rag = RagBackend.open(run, fx.kb(), RagBackend.Options.defaults());
                ReloadWatcher w = new ReloadWatcher(rag, 0.2, log::add)) {
            assertEquals(2, rag.health().get("step").asInt());
            AtomicFiles.writeString(run.resolve(Checkpoints.LATEST), Checkpoints.name(4) + "\n");
            waitFor(() -> rag.health().get("step").asInt() == 4);
            waitFor(() -> rag.modelsOpen() == 1);
            waitFor(() -> !log.isEmpty()); // the watcher logs after the swap it reports: do not race it
            assertEquals(1, log.size(), "one reload event: " + log);
            assertTrue(log.get(0).contains("\"checkpoint_changed\":true"), log.get(0));
            // a pointer to a missing checkpoint: reload fails, the served model stays
            AtomicFiles.writeString(run.resolve(Checkpoints.LATEST), "checkpoint-000099\n");
            waitFor(() -> log.size() >= 2);
            assertTrue(log.get(1).contains("reload failed"), log.get(1));
            assertEquals(4, rag.health().get("step").asInt());
        }
    }

    static JsonNode ok(Http.Response r) {
        if (r.status() != 200) throw new AssertionError("HTTP " + r.status() + ": " + r.body());
        return r.json();
    }

    interface Condition {
        boolean holds() throws Exception;
    }

    static void waitFor(Condition c) throws Exception {
        long end = System.nanoTime() + 60_000_000_000L;
        while (!c.holds()) {
            if (System.nanoTime() > end) throw new AssertionError("condition not reached in 60 s");
            Thread.sleep(20);
        }
    }
}
