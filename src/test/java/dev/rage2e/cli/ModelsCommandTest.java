package dev.rage2e.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.convert.ModelCatalog;
import dev.rage2e.testutil.Fixtures;
import dev.rage2e.testutil.MavenJars;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code rag models ...} end to end through the CLI entry point. */
class ModelsCommandTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {}

    static Run rag(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void unknownNameIsAUserErrorListingKnownModels() {
        Run r = rag("models", "fetch", "gpt-5", "--root", tmp.toString());
        assertEquals(2, r.code());
        assertTrue(
                r.err().contains("unknown model 'gpt-5'") && r.err().contains("all-minilm-l6-v2, bge-small-en-v1.5"),
                r.err());
    }

    /**
     * Fetching an installed model succeeds without touching it (scripts fetch before they run); --force fetches again.
     */
    @Test
    void fetchingAnInstalledModelIsASuccess() throws Exception {
        Run first = rag("models", "fetch", "all-minilm-l6-v2", "--root", tmp.toString());
        assertEquals(0, first.code(), first.err());
        Path weights = tmp.resolve("all-minilm-l6-v2/model.safetensors");
        java.nio.file.attribute.FileTime written = Files.getLastModifiedTime(weights);
        Run again = rag("models", "fetch", "all-minilm-l6-v2", "--root", tmp.toString());
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains("already installed"), again.err());
        assertEquals(written, Files.getLastModifiedTime(weights), "an installed model is left as it is");
        Run forced = rag("models", "fetch", "all-minilm-l6-v2", "--root", tmp.toString(), "--force");
        assertEquals(0, forced.code(), forced.err());
        assertTrue(forced.out().contains("\"name\":\"all-minilm-l6-v2\""), forced.out());
    }

    @Test
    void importsOnnxFileWithSiblingTokenizerThenListsIt() throws Exception {
        ModelCatalog.Entry e = ModelCatalog.get("all-minilm-l6-v2");
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        try (ZipFile z = new ZipFile(MavenJars.locate("all-minilm-l6-v2.onnx", e.groupId(), e.artifactId(), e.version())
                .toFile())) {
            Files.write(
                    src.resolve("mini.onnx"),
                    z.getInputStream(z.getEntry("all-minilm-l6-v2.onnx")).readAllBytes());
            Files.write(
                    src.resolve("mini-tokenizer.json"),
                    z.getInputStream(z.getEntry("all-minilm-l6-v2-tokenizer.json"))
                            .readAllBytes());
        }
        Path out = tmp.resolve("models/mini");
        Run r = rag(
                "models",
                "import",
                "--format",
                "onnx",
                src.resolve("mini.onnx").toString(),
                "--out",
                out.toString(),
                "--pooling",
                "mean",
                "--normalize");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\"layers\":6") && r.out().contains("\"heads\":12"), r.out());
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json", "rag-e2e.json"}) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        assertTrue(Files.readString(out.resolve("rag-e2e.json")).contains("\"pooling\" : \"mean\""));
        try (var s = Files.list(out.getParent())) {
            assertEquals(1, s.count(), "no temporary folders left behind");
        }
        Run again = rag(
                "models", "import", "--format", "onnx", src.resolve("mini.onnx").toString(), "--out", out.toString());
        assertEquals(2, again.code());
        assertTrue(again.err().contains("already exists"), again.err());

        Run tf = rag(
                "models",
                "import",
                "--format",
                "tf",
                src.resolve("mini-tokenizer.json").toString(),
                "--out",
                tmp.resolve("t").toString());
        assertEquals(2, tf.code());
        assertTrue(tf.err().contains("expected a TF checkpoint .index file"), tf.err());
        Run fmt = rag(
                "models",
                "import",
                "--format",
                "pt",
                src.toString(),
                "--out",
                tmp.resolve("t").toString());
        assertTrue(fmt.code() == 2 && fmt.err().contains("--format must be hf, onnx or tf"), fmt.err());

        Run list = rag("models", "list", "--root", out.getParent().toString());
        assertEquals(0, list.code(), list.err());
        assertTrue(list.out().contains("\"name\":\"mini\"") && list.out().contains("\"dim\":384"), list.out());
        assertTrue(
                list.out().contains("\"installed\":false") && list.out().contains("rag models fetch e5-small-v2"),
                list.out());
    }

    @Test
    void hfFolderImportsAsIsAndPickleIsRefusedClearly() throws Exception {
        Path fixture = Fixtures.hf("bert");
        Path out = tmp.resolve("hf-bert");
        Run r = rag("models", "import", "--format", "hf", fixture.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(Files.size(fixture.resolve("model.safetensors")), Files.size(out.resolve("model.safetensors")));

        Path pickle = tmp.resolve("pickle");
        Files.createDirectories(pickle);
        Files.copy(fixture.resolve("config.json"), pickle.resolve("config.json"));
        Files.write(pickle.resolve("pytorch_model.bin"), new byte[] {1, 2, 3});
        Run p = rag(
                "models",
                "import",
                "--format",
                "hf",
                pickle.toString(),
                "--out",
                tmp.resolve("p-out").toString());
        assertEquals(2, p.code());
        assertTrue(p.err().contains("pytorch_model.bin") && p.err().contains("not supported"), p.err());
        assertFalse(Files.exists(tmp.resolve("p-out")));
    }
}
