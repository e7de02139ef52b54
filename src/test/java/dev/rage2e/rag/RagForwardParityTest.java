package dev.rage2e.rag;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.model.Seq2SeqModel;
import dev.rage2e.model.Seq2SeqModels;
import dev.rage2e.testutil.Fixtures;
import org.junit.jupiter.api.Test;

/**
 * The whole RAG-token / RAG-sequence forward over HF's tiny BART generator (contexts and doc scores
 * supplied, as in HF's fixture): our generator + our marginalised loss against HF's RagTokenForGeneration /
 * RagSequenceForGeneration losses.
 */
class RagForwardParityTest {

    @Test
    void ragLossesOverBartMatchHuggingFace() {
        JsonNode fx = Fixtures.json(Fixtures.hf("rag-loss").resolve("rag_e2e_bart.json"));
        JsonNode in = fx.get("inputs");
        int n = fx.get("meta").get("n_docs").asInt();
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel g = Seq2SeqModels.load(Fixtures.hf("bart"), m)) {
            NDArray ctx = m.create(
                    Fixtures.longs(in.get("context_input_ids")),
                    new Shape(Fixtures.shape(in.get("context_input_ids"))));
            NDArray mask = m.create(
                    Fixtures.longs(in.get("context_attention_mask")),
                    new Shape(Fixtures.shape(in.get("context_attention_mask"))));
            NDArray docs =
                    m.create(Fixtures.floats(in.get("doc_scores")), new Shape(Fixtures.shape(in.get("doc_scores"))));
            NDArray labels = m.create(Fixtures.longs(in.get("labels")), new Shape(Fixtures.shape(in.get("labels"))));
            NDArray enc = g.encode(ctx, mask, false);
            NDArray logits = g.decode(labels.repeat(0, n), enc, mask, false);
            int cases = 0;
            for (JsonNode c : fx.get("cases")) {
                NDArray loss = RagLoss.nll(
                        RagLoss.Kind.parse(c.get("kind").asText()),
                        logits,
                        docs,
                        labels,
                        g.padTokenId(),
                        g.bosTokenId(),
                        (float) c.get("label_smoothing").asDouble(),
                        c.get("reduce_loss").asBoolean(),
                        c.get("exclude_bos_score").asBoolean());
                Fixtures.assertClose(
                        Fixtures.floats(c.get("loss")),
                        loss.toFloatArray(),
                        1e-5,
                        1e-5,
                        c.get("call").asText());
                cases++;
            }
            assertEquals(8, cases);
        }
    }
}
