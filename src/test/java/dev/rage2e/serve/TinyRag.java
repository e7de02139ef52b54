package dev.rage2e.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import dev.rage2e.cli.Main;
import dev.rage2e.qa.QaExample;
import dev.rage2e.qa.SquadReader;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KbBuilder;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.Bert2BertWarmStart;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.testutil.Fixtures;
import dev.rage2e.testutil.TinyWordPieceTokenizer;
import dev.rage2e.util.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * A tiny but real trained RAG run for the serving tests, built once per test JVM (a few seconds): a KB
 * from the repo's SQuAD demo contexts, encoded by the fixture BERT (vocab 1000, hidden 64) with a small
 * real WordPiece tokenizer; a BERT2BERT generator warm-started from the same BERT; and four training
 * steps through {@code rag train} (checkpoints at steps 2 and 4). Random-weight models: it tests the
 * serving mechanics, not answer quality.
 */
final class TinyRag {
    static final int N_DOCS = 3;

    record Built(Path root, Path squad, Path kb, Path encoder, Path generator, Path run, List<String> questions) {
        Path checkpoint(int step) {
            return run.resolve(String.format("checkpoint-%06d", step));
        }
    }

    private static Built built;

    private TinyRag() {}

    static synchronized Built get() throws Exception {
        if (built != null) return built;
        Path bert = Fixtures.hf("bert"); // skips the test when ../shared is absent
        Path squad = Path.of("data/demo/squad-demo.json").toAbsolutePath();
        Path root = Files.createTempDirectory("rag-serve-test");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                AtomicFiles.deleteTree(root);
            } catch (IOException ignored) {
                // best effort
            }
        }));
        long t0 = System.nanoTime();
        // two of the six demo articles keep the KB small (a few dozen passages)
        Path small = root.resolve("squad-small.json");
        var json = dev.rage2e.util.Json.read(squad);
        var data = (com.fasterxml.jackson.databind.node.ArrayNode) json.get("data");
        while (data.size() > 2) data.remove(data.size() - 1);
        Files.writeString(small, dev.rage2e.util.Json.write(json));

        Path kbDir = root.resolve("kb");
        KbBuilder.build(List.of(small), kbDir, 100);
        Path enc = TinyWordPieceTokenizer.tinyEncoder(root.resolve("enc"), "{\"pooling\": \"mean\", \"normalize\": true, \"max_length\": 64}");
        assertEquals("bert", bert.getFileName().toString());
        encodeAndPublish(kbDir, enc);
        Path gen = root.resolve("gen");
        Bert2BertWarmStart.initGenerator(enc, gen, 1, 0);
        Path run = root.resolve("run");
        int rc = Main.run("train", "--kb", kbDir.toString(), "--question-encoder", enc.toString(), "--generator", gen.toString(), "--train",
                small.toString(), "--out", run.toString(), "--max-steps", "4", "--checkpoint-every", "2", "--keep-checkpoints", "4",
                "--batch-size", "2", "--n-docs", String.valueOf(N_DOCS), "--max-combined-length", "96", "--max-target-length", "10",
                "--num-beams", "2", "--max-answer-length", "8", "--log-every", "0", "--lr", "1e-3");
        assertEquals(0, rc, "rag train failed");
        List<String> questions = new ArrayList<>();
        for (QaExample e : SquadReader.read(small)) {
            if (questions.size() < 16) questions.add(e.question());
        }
        built = new Built(root, small, kbDir, enc, gen, run, questions);
        System.err.printf("TinyRag fixture: %d passages, run %s (%.1f s)%n", KnowledgeBase.open(kbDir).size(), run, (System.nanoTime() - t0) / 1e9);
        return built;
    }

    /** Encodes the KB with {@code enc} into a new embeddings version and publishes it; returns its name. */
    static String encodeAndPublish(Path kbDir, Path enc) throws IOException {
        KnowledgeBase kb = KnowledgeBase.open(kbDir);
        try (NDManager m = NDManager.newBaseManager(); EncoderModel e = EncoderModel.load(enc, m)) {
            EmbeddingsWriter.Result r = EmbeddingsWriter.encode(kb, e, EncoderIdentity.ofDirectory(e), new EmbeddingsWriter.Options(32, 64, 0, 1, null));
            KbVersions.publish(kbDir, r.version());
            return r.version();
        }
    }

    /** A private copy of a folder tree (so a test may move pointers or add versions without disturbing others). */
    static Path copyTree(Path src, Path dst) throws IOException {
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.toList()) {
                Path t = dst.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
        return dst;
    }
}
