package dev.rage2e.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.kb.KbBuilder;
import dev.rage2e.qa.QaExample;
import dev.rage2e.qa.SquadReader;
import dev.rage2e.testutil.AllAtOnce;
import dev.rage2e.testutil.TinyRag;
import dev.rage2e.testutil.TinyWordPieceTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Micro-batched question encoding gives the passages and scores of one-by-one encoding. */
class RetrievalBatchingTest {
    @TempDir
    static Path dir;

    static double maxDiff;

    @Test
    void concurrentBatchedRequestsReturnTheUnbatchedResults() throws Exception {
        Path squad = Path.of("data/demo/squad-demo.json").toAbsolutePath();
        Path kb = dir.resolve("kb");
        KbBuilder.build(List.of(squad), kb, 100);
        Path enc = TinyWordPieceTokenizer.tinyEncoder(
                dir.resolve("enc"), "{\"pooling\": \"mean\", \"normalize\": true, \"max_length\": 64}");
        TinyRag.encode(kb, enc, 64);
        List<String> questions = new ArrayList<>();
        // mixed lengths: padding
        for (QaExample e : SquadReader.read(squad)) if (questions.size() < 48) questions.add(e.question());
        int k = 5, clients = 24;
        List<JsonNode> expected = new ArrayList<>();
        try (RetrievalBackend alone = RetrievalBackend.open(kb, enc, "flat", k, 10)) {
            for (String q : questions) expected.add(alone.answer(q, k));
        }
        try (RetrievalBackend batched = RetrievalBackend.open(kb, enc, "flat", k, 10, 8, 1)) {
            assertEquals(8, batched.batchCapacity());
            List<Callable<ObjectNode>> asks = new ArrayList<>();
            for (String q : questions) asks.add(() -> batched.answer(q, k));
            for (int round = 0; round < 2; round++) {
                List<ObjectNode> got = AllAtOnce.run(asks, clients, 60);
                for (int i = 0; i < questions.size(); i++) same(expected.get(i), got.get(i), questions.get(i));
            }
            double mean = batched.health().get("mean_batch").asDouble();
            System.err.printf("RetrievalBatchingTest: mean batch %.2f, max |score difference| %.3g%n", mean, maxDiff);
            assertTrue(mean > 1.5, "requests were encoded together: mean batch " + mean);
        }
    }

    /**
     * Same passages in the same order; scores equal up to float rounding (a padded batch runs other matmul
     * shapes than a lone question, so the last bits could differ; on the tiny encoder here they are 0).
     */
    private static void same(JsonNode want, JsonNode got, String q) {
        JsonNode a = want.get("passages"), b = got.get("passages");
        assertEquals(a.size(), b.size(), q);
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).get("id").asInt(), b.get(i).get("id").asInt(), q + " passage " + i);
            assertEquals(a.get(i).get("text").asText(), b.get(i).get("text").asText());
            assertEquals(a.get(i).get("score").asDouble(), b.get(i).get("score").asDouble(), 1e-5, q + " score " + i);
            maxDiff = Math.max(
                    maxDiff,
                    Math.abs(a.get(i).get("score").asDouble()
                            - b.get(i).get("score").asDouble()));
        }
        assertEquals(
                want.get("embeddings_version").asText(),
                got.get("embeddings_version").asText());
    }
}
