package dev.rage2e.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.testutil.Fixtures;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Our BertModel against Hugging Face transformers' own outputs on the tiny random fixture. */
class BertParityTest {

    @Test
    void matchesHuggingFaceWithAndWithoutTokenTypes() {
        Path dir = Fixtures.hf("bert");
        JsonNode fx = Fixtures.json(dir.resolve("fixtures.json"));
        JsonNode in = fx.get("inputs");
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(dir, m)) {
            Shape shape = new Shape(Fixtures.shape(in.get("input_ids")));
            var ids = m.create(Fixtures.longs(in.get("input_ids")), shape);
            var mask = m.create(Fixtures.longs(in.get("attention_mask")), shape);
            var types = m.create(Fixtures.longs(in.get("token_type_ids")), shape);
            for (String variant : new String[] {"with_token_type_ids", "without_token_type_ids"}) {
                JsonNode exp = fx.get("outputs").get(variant);
                BertModel.Output out = enc.bert.forward(ids, mask, variant.startsWith("with_") ? types : null, false);
                assertEquals(
                        new Shape(Fixtures.shape(exp.get("last_hidden_state"))),
                        out.lastHiddenState().getShape());
                Fixtures.assertClose(
                        Fixtures.floats(exp.get("last_hidden_state")),
                        out.lastHiddenState().toFloatArray(),
                        1e-5,
                        1e-5,
                        variant + " last_hidden_state");
                Fixtures.assertClose(
                        Fixtures.floats(exp.get("pooler_output")),
                        out.poolerOutput().toFloatArray(),
                        1e-5,
                        1e-5,
                        variant + " pooler_output");
            }
        }
    }

    @Test
    void trainingModeDropoutChangesOutputsAndEvalIsDeterministic() {
        Path dir = Fixtures.hf("bert");
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(dir, m)) {
            var ids = m.create(new long[] {101, 200, 300, 400, 102}, new Shape(1, 5));
            var mask = m.ones(new Shape(1, 5), ai.djl.ndarray.types.DataType.INT64);
            float[] a =
                    enc.bert.forward(ids, mask, null, false).lastHiddenState().toFloatArray();
            float[] b =
                    enc.bert.forward(ids, mask, null, false).lastHiddenState().toFloatArray();
            float[] c =
                    enc.bert.forward(ids, mask, null, true).lastHiddenState().toFloatArray();
            assertEquals(0.0, Fixtures.maxAbsDiff(a, b));
            org.junit.jupiter.api.Assertions.assertTrue(
                    Fixtures.maxAbsDiff(a, c) > 1e-3, "dropout must act in training mode");
        }
    }

    @Test
    void paddingDoesNotChangeRealTokens() {
        Path dir = Fixtures.hf("bert");
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(dir, m)) {
            long[][] seqs = {{101, 150, 250, 350, 450, 102}, {101, 150, 250, 102}};
            var b = TextTokenizer.pad(m, seqs, 0);
            float[] batched = enc.bert
                    .forward(b.ids(), b.mask(), null, false)
                    .lastHiddenState()
                    .toFloatArray();
            var single = TextTokenizer.pad(m, new long[][] {seqs[1]}, 0);
            float[] alone = enc.bert
                    .forward(single.ids(), single.mask(), null, false)
                    .lastHiddenState()
                    .toFloatArray();
            int h = enc.dim();
            float[] row = java.util.Arrays.copyOfRange(batched, 6 * h, 6 * h + 4 * h);
            Fixtures.assertClose(alone, row, 1e-5, 1e-5, "second row vs alone");
        }
    }
}
