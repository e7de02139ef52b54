package dev.rage2e.rag;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.testutil.Fixtures;
import org.junit.jupiter.api.Test;

/** Our RAG-token / RAG-sequence losses against HF's own get_nll and marginalize on the same tensors. */
class RagLossParityTest {

    @Test
    void getNllMatchesHuggingFaceForEveryCase() {
        JsonNode fx = Fixtures.json(Fixtures.hf("rag-loss").resolve("get_nll.json"));
        JsonNode in = fx.get("inputs");
        long pad = fx.get("meta").get("generator_pad_token_id").asLong();
        long bos = fx.get("meta").get("generator_bos_token_id").asLong();
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray logits = tensor(m, in.get("seq_logits"));
            NDArray docs = tensor(m, in.get("doc_scores"));
            JsonNode marg = fx.get("rag_token_marginalize").get("output");
            Fixtures.assertClose(
                    Fixtures.floats(marg), RagLoss.marginalize(logits, docs).toFloatArray(), 1e-5, 1e-5, "marginalize");
            int n = 0;
            for (JsonNode c : fx.get("cases")) {
                NDArray target = m.create(
                        Fixtures.longs(in.get(c.get("target").asText())),
                        new Shape(Fixtures.shape(in.get(c.get("target").asText()))));
                RagLoss.Kind kind = RagLoss.Kind.parse(c.get("kind").asText());
                NDArray loss = RagLoss.nll(
                        kind,
                        logits,
                        docs,
                        target,
                        pad,
                        bos,
                        (float) c.get("epsilon").asDouble(),
                        c.get("reduce_loss").asBoolean(),
                        c.path("exclude_bos_score").asBoolean(false));
                Fixtures.assertClose(
                        Fixtures.floats(c.get("loss")),
                        loss.toFloatArray(),
                        1e-5,
                        1e-5,
                        c.get("call").asText());
                n++;
            }
            assertTrue(n >= 24, "expected all fixture cases, ran " + n);
        }
    }

    static NDArray tensor(NDManager m, JsonNode t) {
        return m.create(Fixtures.floats(t), new Shape(Fixtures.shape(t)));
    }
}
