package dev.rage2e.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.testutil.Fixtures;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code rag models init-generator} on the tiny HF BERT fixture. */
class Bert2BertWarmStartTest {
    @TempDir
    Path tmp;

    @Test
    void producesHfEncoderDecoderLayoutAndKeepsTheBertEncoder() throws Exception {
        Path bert = Fixtures.hf("bert");
        Path out = tmp.resolve("gen");
        Bert2BertWarmStart.Summary s = Bert2BertWarmStart.initGenerator(bert, out, null, 0);
        assertArrayEquals(new int[] {0, 1}, s.decoderLayersFrom());
        assertFalse(s.lmHeadFromCheckpoint());
        // exactly the tensor names and shapes HF's EncoderDecoderModel.save_pretrained wrote for the same sizes
        assertEquals(
                Seq2SeqSaveLoadTest.shapes(Fixtures.hf("bert2bert").resolve("model.safetensors")),
                Seq2SeqSaveLoadTest.shapes(out.resolve("model.safetensors")));
        JsonNode ours = Json.read(out.resolve("config.json")),
                hf = Json.read(Fixtures.hf("bert2bert").resolve("config.json"));
        for (String f : new String[] {
            "model_type", "is_encoder_decoder", "decoder_start_token_id", "eos_token_id", "pad_token_id"
        }) {
            assertEquals(hf.get(f), ours.get(f), f);
        }
        for (String side : new String[] {"encoder", "decoder"}) {
            for (String f : new String[] {
                "model_type",
                "is_decoder",
                "add_cross_attention",
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "intermediate_size",
                "hidden_act",
                "layer_norm_eps",
                "vocab_size",
                "max_position_embeddings"
            }) {
                assertEquals(hf.get(side).get(f).asText(), ours.get(side).get(f).asText(), side + "." + f);
            }
        }
        assertTrue(ours.get("decoder").get("tie_word_embeddings").asBoolean());

        Map<String, HostTensor> src = Safetensors.read(bert.resolve("model.safetensors"));
        Map<String, HostTensor> gen = Safetensors.read(out.resolve("model.safetensors"));
        for (Map.Entry<String, HostTensor> e : src.entrySet()) {
            assertArrayEquals(
                    e.getValue().toFloats(), gen.get("encoder." + e.getKey()).toFloats(), "encoder." + e.getKey());
            if (e.getKey().startsWith("encoder.layer.") || e.getKey().startsWith("embeddings.")) {
                String d = "decoder.bert." + e.getKey();
                assertArrayEquals(e.getValue().toFloats(), gen.get(d).toFloats(), d);
            }
        }
        // new cross-attention: N(0, 0.02) weights, zero biases, LayerNorm 1/0
        float[] q = gen.get("decoder.bert.encoder.layer.1.crossattention.self.query.weight")
                .toFloats();
        double mean = 0, sq = 0;
        for (float v : q) mean += v / q.length;
        for (float v : q) sq += (v - mean) * (v - mean) / q.length;
        assertEquals(0.0, mean, 0.003);
        assertEquals(0.02, Math.sqrt(sq), 0.002);
        for (float v : gen.get("decoder.bert.encoder.layer.1.crossattention.self.query.bias")
                .toFloats()) assertEquals(0f, v);
        for (float v : gen.get("decoder.bert.encoder.layer.0.crossattention.output.LayerNorm.weight")
                .toFloats()) assertEquals(1f, v);
        for (float v : gen.get("decoder.cls.predictions.bias").toFloats()) assertEquals(0f, v);

        // loads as a generator whose encoder is the BERT: same hidden states as HF's BertModel on the fixture inputs
        JsonNode fx = Fixtures.json(bert.resolve("fixtures.json"));
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel g = Seq2SeqModels.load(out, m)) {
            assertTrue(g instanceof EncoderDecoderModel);
            assertEquals(101, g.decoderStartTokenId());
            assertEquals(102, g.eosTokenId());
            assertEquals(0, g.padTokenId());
            Shape shape = new Shape(Fixtures.shape(fx.get("inputs").get("input_ids")));
            NDArray ids = m.create(Fixtures.longs(fx.get("inputs").get("input_ids")), shape);
            NDArray mask = m.create(Fixtures.longs(fx.get("inputs").get("attention_mask")), shape);
            Fixtures.assertClose(
                    Fixtures.floats(
                            fx.get("outputs").get("without_token_type_ids").get("last_hidden_state")),
                    g.encode(ids, mask, false).toFloatArray(),
                    1e-5,
                    1e-5,
                    "generator encoder vs HF BertModel");
        }
    }

    @Test
    void fewerDecoderLayersAreEvenlySpacedAndHeadComesFromMlmCheckpoint() throws Exception {
        assertArrayEquals(new int[] {0, 2, 4, 7, 9, 11}, Bert2BertWarmStart.layerChoice(12, 6));
        assertArrayEquals(new int[] {0, 11}, Bert2BertWarmStart.layerChoice(12, 2));
        assertArrayEquals(new int[] {0}, Bert2BertWarmStart.layerChoice(12, 1));
        // a BertForMaskedLM-style checkpoint ("bert." body + cls.predictions head) built from the fixture
        Path mlm = tmp.resolve("mlm");
        Files.createDirectories(mlm);
        Files.copy(Fixtures.hf("bert").resolve("config.json"), mlm.resolve("config.json"));
        Map<String, HostTensor> t = new java.util.LinkedHashMap<>();
        Safetensors.read(Fixtures.hf("bert").resolve("model.safetensors")).forEach((k, v) -> t.put("bert." + k, v));
        float[] dense = new float[64 * 64];
        for (int i = 0; i < dense.length; i++) dense[i] = (i % 7) * 0.01f;
        t.put("cls.predictions.transform.dense.weight", HostTensor.ofFloats(dense, 64, 64));
        t.put("cls.predictions.transform.dense.bias", HostTensor.ofFloats(new float[64], 64));
        t.put("cls.predictions.transform.LayerNorm.weight", HostTensor.ofFloats(filled(64, 0.5f), 64));
        t.put("cls.predictions.transform.LayerNorm.bias", HostTensor.ofFloats(new float[64], 64));
        t.put("cls.predictions.bias", HostTensor.ofFloats(filled(1000, 0.25f), 1000));
        Safetensors.write(mlm.resolve("model.safetensors"), t, Map.of("format", "pt"));
        Path out = tmp.resolve("gen1");
        Bert2BertWarmStart.Summary s = Bert2BertWarmStart.initGenerator(mlm, out, 1, 0);
        assertTrue(s.lmHeadFromCheckpoint());
        Map<String, HostTensor> gen = Safetensors.read(out.resolve("model.safetensors"));
        assertArrayEquals(
                dense, gen.get("decoder.cls.predictions.transform.dense.weight").toFloats());
        assertArrayEquals(
                filled(1000, 0.25f), gen.get("decoder.cls.predictions.bias").toFloats());
        assertArrayEquals(
                t.get("bert.encoder.layer.0.output.dense.weight").toFloats(),
                gen.get("decoder.bert.encoder.layer.0.output.dense.weight").toFloats());
        assertFalse(gen.containsKey("decoder.bert.encoder.layer.1.output.dense.weight"));
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel g = Seq2SeqModels.load(out, m)) {
            assertEquals(1, ((EncoderDecoderModel) g).config.decoder().numHiddenLayers());
        }
    }

    @Test
    void rejectsBadRequests() {
        Path out = tmp.resolve("x");
        // outside assertThrows: absent ../shared skips the test
        Path bert = Fixtures.hf("bert"), bart = Fixtures.hf("bart");
        UserException e = assertThrows(UserException.class, () -> Bert2BertWarmStart.initGenerator(bert, out, 3, 0));
        assertTrue(e.getMessage().contains("between 1 and 2"), e.getMessage());
        e = assertThrows(UserException.class, () -> Bert2BertWarmStart.initGenerator(bart, out, null, 0));
        assertTrue(e.getMessage().contains("model_type 'bart'"), e.getMessage());
        assertFalse(Files.exists(out), "nothing written on error");
    }

    static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }
}
