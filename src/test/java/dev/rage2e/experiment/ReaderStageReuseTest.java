package dev.rage2e.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A reader stage is found by what its recipe names, not where: the same files in another folder match. */
class ReaderStageReuseTest {
    /** An experiment folder with a model, a KB manifest and training data; {@code data} varies the data's bytes. */
    private static TrainConfig folder(Path dir, String data) throws Exception {
        Files.createDirectories(dir.resolve("model"));
        Files.writeString(dir.resolve("model/config.json"), "{\"hidden_size\": 8}");
        Files.write(dir.resolve("model/model.safetensors"), new byte[] {1, 2, 3, 4});
        Files.createDirectories(dir.resolve("kb"));
        // written at another time in each folder: only the passages' hash may count
        Files.writeString(
                dir.resolve("kb/manifest.json"),
                "{\"passages_sha256\": \"abc\", \"created\": \"" + System.nanoTime() + "\"}");
        Files.writeString(dir.resolve("train.json"), data);
        TrainConfig c = new TrainConfig();
        c.questionEncoder = dir.resolve("model").toString();
        c.generator = dir.resolve("model").toString();
        c.kb = dir.resolve("kb").toString();
        c.train = dir.resolve("train.json").toString();
        c.maxMinutes = 8;
        // what ReaderStage.run sets before it computes the key
        c.readerOnly = true;
        c.mode = TrainConfig.Mode.ORIGINAL;
        c.evalQuestions = 0;
        return c;
    }

    @Test
    void keysCompareWhatThePathsNameNotThePaths(@TempDir Path tmp) throws Exception {
        TrainConfig a = folder(tmp.resolve("a"), "{\"data\": [1]}");
        TrainConfig b = folder(tmp.resolve("b"), "{\"data\": [1]}");
        TrainConfig other = folder(tmp.resolve("c"), "{\"data\": [2]}");
        String ka = ReaderStage.key(a, List.of()), kb = ReaderStage.key(b, List.of());
        assertNotEquals(ka, kb, "the recorded keys hold paths");
        assertEquals(ReaderStage.comparable(ka), ReaderStage.comparable(kb));
        assertNotEquals(ReaderStage.comparable(ka), ReaderStage.comparable(ReaderStage.key(other, List.of())));
        b.maxMinutes = 9;
        assertNotEquals(ReaderStage.comparable(ka), ReaderStage.comparable(ReaderStage.key(b, List.of())));
    }

    @Test
    void retrieverOptionsDoNotNameAnotherStage(@TempDir Path tmp) throws Exception {
        TrainConfig a = folder(tmp.resolve("a"), "{\"data\": [1]}");
        a.lrRetriever = 3e-5f;
        a.indexingFreq = 50;
        TrainConfig b = folder(tmp.resolve("b"), "{\"data\": [1]}");
        b.lrRetriever = 1e-4f;
        b.indexingFreq = 100;
        b.retrieverWarmupSteps = 20;
        String ka = ReaderStage.comparable(ReaderStage.key(a, List.of()));
        assertEquals(ka, ReaderStage.comparable(ReaderStage.key(b, List.of())));
        b.lr = a.lr * 2; // the reader's own learning rate is the stage's recipe
        String kb = ReaderStage.comparable(ReaderStage.key(b, List.of()));
        assertNotEquals(ka, kb);
        assertTrue(ReaderStage.difference(ka, kb).contains("'lr' is"), ReaderStage.difference(ka, kb));
    }

    @Test
    void anotherRetrieverDoesNotNameAnotherStage(@TempDir Path tmp) throws Exception {
        TrainConfig a = folder(tmp.resolve("a"), "{\"data\": [1]}");
        TrainConfig b = folder(tmp.resolve("b"), "{\"data\": [1]}");
        Files.createDirectories(tmp.resolve("b/e5"));
        Files.writeString(tmp.resolve("b/e5/config.json"), "{\"hidden_size\": 16}");
        b.questionEncoder = tmp.resolve("b/e5").toString();
        b.contextEncoder = tmp.resolve("b/e5").toString();
        String ka = ReaderStage.comparable(ReaderStage.key(a, List.of()));
        assertEquals(ka, ReaderStage.comparable(ReaderStage.key(b, List.of())));
        b.generator = tmp.resolve("b/e5").toString(); // the reader's own warm start is the stage's recipe
        String kb = ReaderStage.comparable(ReaderStage.key(b, List.of()));
        assertNotEquals(ka, kb);
        assertTrue(ReaderStage.difference(ka, kb).contains("'generator' names other content"));
    }

    @Test
    void aStageNotReusedSaysWhatDiffers(@TempDir Path tmp) throws Exception {
        TrainConfig a = folder(tmp.resolve("a"), "{\"data\": [1]}");
        TrainConfig b = folder(tmp.resolve("b"), "{\"data\": [1]}");
        b.seed = a.seed + 2;
        String why = ReaderStage.difference(
                ReaderStage.comparable(ReaderStage.key(a, List.of())),
                ReaderStage.comparable(ReaderStage.key(b, List.of())));
        assertTrue(why.contains("'seed' is " + a.seed + ", this stage's " + b.seed), why);
        assertTrue(why.contains("--reader-stage-seed"), why);
        TrainConfig c = folder(tmp.resolve("c"), "{\"data\": [2]}");
        why = ReaderStage.difference(
                ReaderStage.comparable(ReaderStage.key(a, List.of())),
                ReaderStage.comparable(ReaderStage.key(c, List.of())));
        assertTrue(why.contains("'train' names other content"), why);
    }

    @Test
    void aStageOfAnotherFolderIsReusedAndRecorded(@TempDir Path tmp) throws Exception {
        TrainConfig a = folder(tmp.resolve("a"), "{\"data\": [1]}");
        Path reader = tmp.resolve("a/reader-stage/run-x/generator");
        Files.createDirectories(reader);
        Files.writeString(reader.resolve("config.json"), "{}");
        ObjectNode rec = Json.MAPPER.createObjectNode();
        rec.put("key", ReaderStage.key(a, List.of()));
        rec.put("reader", reader.toString());
        rec.putObject("gold_passage").put("em", 0.42);
        Path recorded = tmp.resolve("a/reader-stage/reader-stage-x.json");
        Files.writeString(recorded, Json.pretty(rec));

        TrainConfig b = folder(tmp.resolve("b"), "{\"data\": [1]}");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        Path stageDir = tmp.resolve("b/reader-stage");
        // a mismatch would start training on these fake models and fail: reuse is the only way to return
        ReaderStage.Result r =
                new ReaderStage(new PrintStream(log, true)).run(b, stageDir, List.of(), List.of(recorded));
        assertEquals(reader, r.reader());
        assertEquals(0.42, r.report().path("em").asDouble());
        assertTrue(log.toString().contains("reusing the reader stage"), log.toString());
        // recorded in b's stage folder with its origin, so b's later runs find it there
        try (var files = Files.list(stageDir)) {
            List<Path> json = files.toList();
            assertEquals(1, json.size());
            assertEquals(
                    recorded.toAbsolutePath().toString(),
                    Json.read(json.get(0)).path("reused_from").asText());
        }
        ReaderStage.Result again = new ReaderStage(new PrintStream(log, true)).run(b, stageDir, List.of(), List.of());
        assertEquals(reader, again.reader());

        assertThrows(
                UserException.class,
                () -> new ReaderStage(new PrintStream(log, true))
                        .run(b, stageDir, List.of(), List.of(tmp.resolve("nope.json"))));
    }
}
