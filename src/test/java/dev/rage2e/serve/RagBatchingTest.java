package dev.rage2e.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.testutil.AllAtOnce;
import dev.rage2e.testutil.TinyRag;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;

/** Full answers decoded in micro-batches across concurrent requests equal the answers decoded one by one. */
class RagBatchingTest {
    @Test
    void concurrentBatchedAnswersEqualTheUnbatchedOnes() throws Exception {
        TinyRag.Trained fx = TinyRag.trained();
        RagBackend.Options opt = new RagBackend.Options(2, 8, null, "auto", 20);
        List<String> questions = new ArrayList<>();
        for (String q : fx.questions()) if (questions.size() < 12) questions.add(q);
        // two passage counts in one batch: each group decodes with its own n
        int[] ks = new int[questions.size()];
        for (int i = 0; i < ks.length; i++) ks[i] = i % 3 == 0 ? 2 : TinyRag.SERVED_N_DOCS;
        List<JsonNode> expected = new ArrayList<>();
        try (RagBackend alone = RagBackend.open(fx.run(), null, opt)) {
            assertEquals(1, alone.batchCapacity());
            for (int i = 0; i < questions.size(); i++) expected.add(alone.answer(questions.get(i), ks[i]));
        }
        try (RagBackend batched = RagBackend.open(fx.run(), null, opt, 6, 1)) {
            assertEquals(6, batched.batchCapacity());
            List<Callable<ObjectNode>> asks = new ArrayList<>();
            for (int i = 0; i < questions.size(); i++) {
                String q = questions.get(i);
                int k = ks[i];
                asks.add(() -> batched.answer(q, k));
            }
            List<ObjectNode> got = AllAtOnce.run(asks, questions.size(), 120);
            for (int i = 0; i < questions.size(); i++) {
                JsonNode want = expected.get(i), have = got.get(i);
                String q = questions.get(i);
                assertEquals(want.get("answer").asText(), have.get("answer").asText(), q);
                assertEquals(want.get("k").asInt(), have.get("k").asInt(), q);
                JsonNode a = want.get("passages"), b = have.get("passages");
                assertEquals(a.size(), b.size(), q);
                for (int j = 0; j < a.size(); j++) {
                    assertEquals(a.get(j).get("id").asInt(), b.get(j).get("id").asInt(), q + " passage " + j);
                    assertEquals(
                            a.get(j).get("posterior").asDouble(),
                            b.get(j).get("posterior").asDouble(),
                            1e-5,
                            q + " posterior " + j);
                }
                assertTrue(have.get("timings").get("batch").asInt() >= 1);
            }
            double mean = batched.health().get("mean_batch").asDouble();
            System.err.printf("RagBatchingTest: mean batch %.2f%n", mean);
            assertTrue(mean > 1.5, "requests were decoded together: mean batch " + mean);
        }
    }
}
