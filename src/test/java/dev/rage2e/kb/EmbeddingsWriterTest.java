package dev.rage2e.kb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.testutil.TinyWordPieceTokenizer;
import dev.rage2e.util.Fingerprint;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The encode pipeline with the tiny fixture BERT and a real (small) WordPiece tokenizer. */
class EmbeddingsWriterTest {
    @TempDir
    Path tmp;

    private KnowledgeBase kb(int docs) throws Exception {
        Random r = new Random(5);
        String[] vocab = {"the", "river", "city", "warsaw", "tesla", "flows", "north", "coil", "1899", "x7"};
        StringBuilder csv = new StringBuilder("title,text\n");
        for (int d = 0; d < docs; d++) {
            csv.append("Doc ").append(d).append(',');
            int words = 3 + r.nextInt(40);
            for (int w = 0; w < words; w++)
                csv.append(vocab[r.nextInt(vocab.length)]).append(' ');
            csv.append('\n');
        }
        Path f = tmp.resolve("docs.csv");
        Files.writeString(f, csv);
        KbBuilder.build(List.of(f), tmp.resolve("kb"), 20);
        return KnowledgeBase.open(tmp.resolve("kb"));
    }

    @Test
    void encodesPassagesAsPrefixTitleTextAndShardsMergeToTheSameVersion() throws Exception {
        KnowledgeBase kb = kb(30);
        Path model = TinyWordPieceTokenizer.tinyEncoder(
                tmp.resolve("enc"),
                "{\"pooling\": \"mean\", \"normalize\": true, \"query_prefix\": \"query: \", \"passage_prefix\": "
                        + "\"passage: \"}");
        try (NDManager root = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(model, root)) {
            EncoderIdentity id = EncoderIdentity.ofDirectory(enc);
            EmbeddingsWriter.Options opt = new EmbeddingsWriter.Options(4, 64, 0, 1, null);
            EmbeddingsWriter.Result r = EmbeddingsWriter.encode(kb, enc, id, opt);
            assertEquals("emb-00001", r.version());
            assertEquals(kb.size(), r.passagesEncoded());
            Embeddings e = Embeddings.open(kb, r.version());
            e.verify();
            assertEquals(64, e.dim());
            assertEquals("passage: {title} {text}", e.meta().get("passage_text").asText());
            assertEquals(
                    Fingerprint.sha256(model.resolve("model.safetensors")),
                    e.meta().get("encoder").get("weights_sha256").asText());
            // each row equals the passage encoded alone (no padding) with the prefix
            for (int i = 0; i < kb.size(); i += 7) {
                Passage p = kb.passage(i);
                float[] alone = enc.encodeTexts(List.of(p.title() + " " + p.text()), false, 64, 1)[0];
                float[] row = e.row(i);
                for (int j = 0; j < row.length; j++) assertEquals(alone[j], row[j], 1e-5, "passage " + i + " dim " + j);
                float[] noPrefix = enc.encodeIds(
                                new long[][] {enc.tokenizer().encode(p.title() + " " + p.text(), 64)}, 1, null)[0];
                assertTrue(maxDiff(noPrefix, row) > 1e-3, "the passage prefix must be applied");
            }

            // three shards, out of order: the set is merged by the shard that completes it
            EmbeddingsWriter.Result s0 =
                    EmbeddingsWriter.encode(kb, enc, id, new EmbeddingsWriter.Options(4, 64, 0, 3, null));
            EmbeddingsWriter.Result s2 =
                    EmbeddingsWriter.encode(kb, enc, id, new EmbeddingsWriter.Options(4, 64, 2, 3, null));
            assertNull(s0.version());
            assertNull(s2.version());
            assertTrue(Files.exists(s2.shardFile()));
            EmbeddingsWriter.Result s1 =
                    EmbeddingsWriter.encode(kb, enc, id, new EmbeddingsWriter.Options(4, 64, 1, 3, null));
            assertEquals("emb-00002", s1.version());
            assertFalse(Files.exists(s2.shardFile().getParent()), "shard files are removed after the merge");
            Embeddings merged = Embeddings.open(kb, "emb-00002");
            merged.verify();
            assertEquals(3, merged.meta().get("shards").asInt());
            for (int i = 0; i < kb.size(); i++) assertTrue(maxDiff(e.row(i), merged.row(i)) < 1e-5, "row " + i);
            assertEquals(List.of("emb-00001", "emb-00002"), KbVersions.list(kb.dir()));
            try (var s = Files.list(kb.dir())) {
                assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".tmp-")), "no temp dirs left");
            }
        }
    }

    @Test
    void inMemoryFingerprintFollowsTheWeights() throws Exception {
        Path model = TinyWordPieceTokenizer.tinyEncoder(tmp.resolve("enc"), "{\"pooling\": \"cls\"}");
        try (NDManager root = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(model, root)) {
            String a = EncoderIdentity.ofParams("step-0", enc).fingerprint();
            assertEquals(a, EncoderIdentity.ofParams("step-0", enc).fingerprint());
            enc.params.parameters().values().iterator().next().addi(1f);
            assertNotEquals(a, EncoderIdentity.ofParams("step-1", enc).fingerprint());
        }
    }

    @Test
    void optionsAreValidated() {
        assertThrows(UserException.class, () -> new EmbeddingsWriter.Options(4, 64, 3, 3, null));
        assertThrows(UserException.class, () -> new EmbeddingsWriter.Options(0, 64, 0, 1, null));
    }

    private static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
