package dev.rage2e.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.KbBuilder;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.rag.Retriever;
import dev.rage2e.testutil.TinyWordPieceTokenizer;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The refresher's path: in-memory encoder snapshot -> new version + HNSW -> publish -> readers switch. */
class KbIndexBuilderTest {
    @TempDir
    Path tmp;

    @Test
    void buildsPublishesAndDiscardsVersionsFromAnInMemoryEncoder() throws Exception {
        StringBuilder csv = new StringBuilder("title,text\n");
        String[] w = {"river", "city", "warsaw", "tesla", "north", "coil", "flows", "the"};
        for (int i = 0; i < 60; i++)
            csv.append("Doc ")
                    .append(i)
                    .append(',')
                    .append(w[i % 8])
                    .append(' ')
                    .append(w[(i / 8) % 8])
                    .append(' ')
                    .append(i)
                    .append('\n');
        Files.writeString(tmp.resolve("d.csv"), csv);
        KbBuilder.build(List.of(tmp.resolve("d.csv")), tmp.resolve("kb"), 100);
        KnowledgeBase kb = KnowledgeBase.open(tmp.resolve("kb"));
        Path model =
                TinyWordPieceTokenizer.tinyEncoder(tmp.resolve("enc"), "{\"pooling\": \"mean\", \"normalize\": true}");
        try (NDManager root = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(model, root)) {
            // an initial published version to start from
            EmbeddingsWriter.Result first = EmbeddingsWriter.encode(
                    kb,
                    enc,
                    dev.rage2e.kb.EncoderIdentity.ofDirectory(enc),
                    new EmbeddingsWriter.Options(16, 32, 0, 1, null));
            KbVersions.publish(kb.dir(), first.version());
            List<String> errors = new CopyOnWriteArrayList<>();
            try (KbRetriever retriever = KbRetriever.open(kb, "auto");
                    KbJanitor janitor = new KbJanitor(kb.dir(), v -> false, retriever::openVersions, errors::add)) {
                retriever.useJanitor(janitor);
                assertEquals("flat", retriever.resolvedIndexType());
                KbIndexBuilder builder = new KbIndexBuilder(
                        retriever,
                        "hnsw",
                        new HnswIndex.Params(8, 40, 60, 1),
                        new EmbeddingsWriter.Options(16, 32, 0, 1, null));
                enc.params.parameters().values().iterator().next().addi(0.5f); // "a training step"
                IndexBuilder.Built built = builder.build(enc, "context-encoder@step-10");
                assertEquals("emb-00002", built.version());
                assertEquals(60, built.passages());
                Embeddings e2 = Embeddings.open(kb, built.version());
                assertEquals(
                        "context-encoder@step-10",
                        e2.meta().get("encoder").get("label").asText());
                assertTrue(e2.meta().get("encoder").has("fingerprint"));
                assertTrue(Indexes.hasHnsw(e2));
                assertEquals(first.version(), builder.current());

                float[][] probe = {e2.row(5), e2.row(17)};
                int[][] before = builder.search(first.version(), probe, 3);
                int[][] after = builder.search(built.version(), probe, 3);
                assertEquals(5, after[0][0]);
                assertEquals(17, after[1][0]);

                try (Retriever.Snapshot pinned = retriever.acquire()) {
                    // publishing is a reference swap: it returns while another thread holds the KB lock (the
                    // pointer file and deletions wait on the janitor's thread, never on the training thread)
                    CountDownLatch locked = new CountDownLatch(1), release = new CountDownLatch(1);
                    Thread holder = new Thread(() -> {
                        try {
                            KbVersions.withLock(kb.dir(), () -> {
                                locked.countDown();
                                try {
                                    release.await();
                                } catch (InterruptedException e) {
                                    Thread.currentThread().interrupt();
                                }
                                return null;
                            });
                        } catch (Exception e) {
                            errors.add(e.toString());
                        }
                    });
                    holder.start();
                    locked.await();
                    long t0 = System.nanoTime();
                    builder.publish(built);
                    double ms = (System.nanoTime() - t0) / 1e6;
                    assertEquals(built.version(), builder.current());
                    assertEquals(
                            first.version(),
                            KbVersions.requireCurrent(kb.dir()),
                            "the pointer file moves after the lock is free");
                    release.countDown();
                    holder.join();
                    janitor.flush();
                    assertEquals(built.version(), KbVersions.requireCurrent(kb.dir()));
                    assertTrue(ms < 1000, "publish took " + ms + " ms");
                    // the pinned snapshot still answers from the old version, consistently
                    assertEquals(first.version(), pinned.version());
                    assertArrayEquals(before[0], pinned.search(probe, 3).ids()[0]);
                    assertArrayEquals(Embeddings.open(kb, first.version()).row(5), pinned.embedding(5));
                    assertTrue(Files.isDirectory(kb.dir().resolve(first.version())));
                }
                janitor.flush();
                assertFalse(
                        Files.exists(kb.dir().resolve(first.version())),
                        "replaced version deleted after its last reader");
                try (Retriever.Snapshot s = retriever.acquire()) {
                    assertEquals(built.version(), s.version());
                    assertArrayEquals(e2.row(17), s.embedding(17));
                    assertEquals(kb.passage(17).text(), s.passage(17).text());
                    assertEquals(17, s.search(probe, 1).ids()[1][0]);
                }
                assertEquals("hnsw", retriever.resolvedIndexType());

                // a built but unpublished version can be discarded; the current one cannot
                IndexBuilder.Built third = builder.build(enc, "context-encoder@step-20");
                assertNotEquals(built.version(), third.version());
                builder.discard(third);
                assertFalse(Files.exists(kb.dir().resolve(third.version())));
                assertThrows(UserException.class, () -> builder.discard(built));
                assertEquals(List.of(), errors);
            }
        }
    }
}
