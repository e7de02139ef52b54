package dev.rage2e.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.model.generate.Generation;
import dev.rage2e.testutil.Fixtures;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * BART and BERT2BERT against Hugging Face transformers' own outputs on the tiny random fixtures:
 * encoder states, teacher-forced logits and loss, and generate() ids / beam scores.
 */
class Seq2SeqParityTest {
    static final double TOL = 1e-5;

    static NDArray tensor(NDManager m, JsonNode t) {
        Shape s = new Shape(Fixtures.shape(t));
        return t.get("dtype").asText().equals("int64")
                ? m.create(Fixtures.longs(t), s)
                : m.create(Fixtures.floats(t), s);
    }

    static void close(JsonNode expected, NDArray actual, String what) {
        assertEquals(new Shape(Fixtures.shape(expected)), actual.getShape(), what + " shape");
        float[] e = Fixtures.floats(expected), a = actual.toFloatArray();
        Fixtures.assertClose(e, a, TOL, TOL, what);
        System.out.printf("parity %-45s max|diff| = %.3g%n", what, Fixtures.maxAbsDiff(e, a));
    }

    @ParameterizedTest
    @ValueSource(strings = {"bart", "bert2bert"})
    void teacherForcedForwardMatchesHuggingFace(String name) {
        Path dir = Fixtures.hf(name);
        JsonNode fx = Fixtures.json(dir.resolve("forward.json"));
        JsonNode in = fx.get("inputs");
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel model = Seq2SeqModels.load(dir, m)) {
            NDArray ids = tensor(m, in.get("input_ids")), mask = tensor(m, in.get("attention_mask"));
            NDArray labels = tensor(m, in.get("labels"));
            NDArray enc = model.encode(ids, mask, false);
            JsonNode fl = fx.get("forward_labels");
            close(fl.get("encoder_last_hidden_state"), enc, name + " encoder_last_hidden_state");

            NDArray decIn = Seq2SeqLoss.shiftTokensRight(labels, model.padTokenId(), model.decoderStartTokenId());
            assertArrayEquals(
                    Fixtures.longs(fl.get("derived_decoder_input_ids")), decIn.toLongArray(), "shift_tokens_right");
            // HF's EncoderDecoderModel derives decoder_attention_mask = (decoder_input_ids != pad); BART uses none
            JsonNode derivedMask = fl.get("derived_decoder_attention_mask");
            NDArray decMask = derivedMask.isNull()
                    ? null
                    : decIn.neq(model.padTokenId()).toType(ai.djl.ndarray.types.DataType.INT64, false);
            if (decMask != null)
                assertArrayEquals(Fixtures.longs(derivedMask), decMask.toLongArray(), "derived decoder mask");
            NDArray logits = model.decode(decIn, decMask, enc, mask, false);
            close(fl.get("logits"), logits, name + " forward_labels.logits");
            NDArray loss = Seq2SeqLoss.crossEntropy(logits, labels, 0f);
            close(fl.get("loss"), loss, name + " forward_labels.loss");

            JsonNode fd = fx.get("forward_decoder_inputs");
            NDArray logits2 = model.decode(
                    tensor(m, in.get("decoder_input_ids")),
                    tensor(m, in.get("decoder_attention_mask")),
                    enc,
                    mask,
                    false);
            close(fd.get("logits"), logits2, name + " forward_decoder_inputs.logits");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"bart", "bert2bert"})
    void generateMatchesHuggingFace(String name) {
        Path dir = Fixtures.hf(name);
        JsonNode fx = Fixtures.json(dir.resolve("generate.json"));
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel model = Seq2SeqModels.load(dir, m)) {
            NDArray ids = tensor(m, fx.get("inputs").get("input_ids")),
                    mask = tensor(m, fx.get("inputs").get("attention_mask"));
            int calls = 0;
            for (Iterator<Map.Entry<String, JsonNode>> it = fx.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().has("sequences")) continue;
                JsonNode call = e.getValue();
                // the effective settings HF recorded, over the model's own defaults
                GenerationConfig cfg =
                        GenerationConfig.fromJson(call.get("generation_config"), model.generationConfig());
                Generation.Result r = Generation.generate(model, ids, mask, cfg);
                long[] shape = Fixtures.shape(call.get("sequences"));
                long[] expected = Fixtures.longs(call.get("sequences"));
                assertEquals(shape[0], r.sequences().length, e.getKey() + " rows");
                long[] flat = new long[(int) (shape[0] * r.sequences()[0].length)];
                for (int i = 0; i < r.sequences().length; i++) {
                    System.arraycopy(r.sequences()[i], 0, flat, i * r.sequences()[i].length, r.sequences()[i].length);
                }
                assertArrayEquals(
                        expected,
                        flat,
                        name + " " + e.getKey() + " sequences (HF "
                                + "width " + shape[1] + ", ours "
                                + r.sequences()[0].length + ")");
                if (call.has("sequences_scores")) {
                    float[] es = Fixtures.floats(call.get("sequences_scores"));
                    Fixtures.assertClose(es, r.scores(), TOL, TOL, name + " " + e.getKey() + " sequences_scores");
                    System.out.printf(
                            "parity %-45s max|diff| = %.3g%n",
                            name + " " + e.getKey() + " sequences_scores", Fixtures.maxAbsDiff(es, r.scores()));
                }
                calls++;
            }
            assertEquals(name.equals("bart") ? 4 : 2, calls, "generate calls checked");
        }
    }
}
