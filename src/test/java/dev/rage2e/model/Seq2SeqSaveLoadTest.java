package dev.rage2e.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.rage2e.model.generate.Generation;
import dev.rage2e.testutil.Fixtures;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Tiny random BART and BERT2BERT: save -> load gives identical outputs and HF's file layout. */
class Seq2SeqSaveLoadTest {
    @TempDir
    Path tmp;

    static Map<String, String> shapes(Path safetensors) {
        Map<String, String> out = new TreeMap<>();
        for (Map.Entry<String, HostTensor> e : Safetensors.read(safetensors).entrySet()) {
            out.put(
                    e.getKey(),
                    java.util.Arrays.toString(e.getValue().shape())
                            + e.getValue().dtype());
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"bart", "bert2bert"})
    void saveThenLoadGivesIdenticalOutputs(String name) throws Exception {
        Path src = Fixtures.hf(name);
        Path out = tmp.resolve(name + "-copy");
        long[][] in = {
            {name.equals("bart") ? 0 : 101, 300, 400, 500, name.equals("bart") ? 2 : 102},
            {name.equals("bart") ? 0 : 101, 600, name.equals("bart") ? 2 : 102}
        };
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel a = Seq2SeqModels.load(src, m)) {
            // change one trained parameter so that saving must write current values, not the source file
            NDArray w = a.params().parameters().values().iterator().next();
            w.addi(m.randomUniform(-0.05f, 0.05f, w.getShape())); // not a constant shift, which a LayerNorm would hide
            a.save(out);
            assertTrue(Files.exists(out.resolve("generation_config.json")));
            // HF layout: the same tensor names, shapes and dtypes as HF's own save_pretrained (tied copies dropped)
            assertEquals(shapes(src.resolve("model.safetensors")), shapes(out.resolve("model.safetensors")));
            try (Seq2SeqModel b = Seq2SeqModels.load(out, m)) {
                assertEquals(a.getClass(), b.getClass());
                assertEquals(a.generationConfig(), b.generationConfig());
                TextTokenizer.Batch batch = TextTokenizer.pad(m, in, a.padTokenId());
                NDArray dec = m.create(
                        new long[] {a.decoderStartTokenId(), 7, 8, a.decoderStartTokenId(), 9, 10}, new Shape(2, 3));
                float[] la = a.decode(dec, a.encode(batch.ids(), batch.mask(), false), batch.mask(), false)
                        .toFloatArray();
                float[] lb = b.decode(dec, b.encode(batch.ids(), batch.mask(), false), batch.mask(), false)
                        .toFloatArray();
                assertEquals(0.0, Fixtures.maxAbsDiff(la, lb), "logits after reload");
                GenerationConfig cfg = a.generationConfig().withMaxLength(10).withNumBeams(2);
                Generation.Result ga = Generation.generate(a, in, cfg, m), gb = Generation.generate(b, in, cfg, m);
                for (int i = 0; i < in.length; i++) assertArrayEquals(ga.sequences()[i], gb.sequences()[i]);
                assertArrayEquals(ga.scores(), gb.scores());
                // and the change was saved: the original file gives different logits
                try (Seq2SeqModel orig = Seq2SeqModels.load(src, m)) {
                    float[] lo = orig.decode(dec, orig.encode(batch.ids(), batch.mask(), false), batch.mask(), false)
                            .toFloatArray();
                    assertTrue(Fixtures.maxAbsDiff(la, lo) > 1e-4);
                }
            }
        }
    }

    @Test
    void buffersAreSavedButNotTrained() {
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel bart = Seq2SeqModels.load(Fixtures.hf("bart"), m);
                Seq2SeqModel b2b = Seq2SeqModels.load(Fixtures.hf("bert2bert"), m)) {
            assertFalse(bart.params().parameters().containsKey("final_logits_bias"));
            assertTrue(bart.params().toHost().containsKey("final_logits_bias"));
            assertFalse(b2b.params().parameters().containsKey("encoder.pooler.dense.weight"));
            assertTrue(b2b.params().toHost().containsKey("encoder.pooler.dense.weight"));
            // tied: the LM head projection is the decoder word embedding table, stored once
            assertFalse(b2b.params().toHost().containsKey("decoder.cls.predictions.decoder.weight"));
            assertFalse(bart.params().toHost().containsKey("lm_head.weight"));
        }
    }

    @Test
    void loaderRejectsWhatItCannotRun() throws Exception {
        Path bert = Fixtures.hf("bert"); // outside assertThrows: absent ../shared skips the test
        try (NDManager m = NDManager.newBaseManager()) {
            UserException e = assertThrows(UserException.class, () -> Seq2SeqModels.load(bert, m));
            assertTrue(e.getMessage().contains("init-generator"), e.getMessage());
            Path t5 = tmp.resolve("t5");
            Files.createDirectories(t5);
            Files.writeString(t5.resolve("config.json"), "{\"model_type\": \"t5\"}");
            e = assertThrows(UserException.class, () -> Seq2SeqModels.load(t5, m));
            assertTrue(e.getMessage().contains("'t5' is not a supported generator"), e.getMessage());
            Path bad = tmp.resolve("bad-bart");
            Files.createDirectories(bad);
            Files.copy(Fixtures.hf("bart").resolve("config.json"), bad.resolve("config.json"));
            e = assertThrows(UserException.class, () -> Seq2SeqModels.load(bad, m));
            assertTrue(e.getMessage().contains("missing model.safetensors"), e.getMessage());
            // config that does not match the weights: named tensor and shapes
            Files.copy(Fixtures.hf("bart").resolve("model.safetensors"), bad.resolve("model.safetensors"));
            Files.writeString(
                    bad.resolve("config.json"),
                    Files.readString(Fixtures.hf("bart").resolve("config.json"))
                            .replace("\"decoder_ffn_dim\": 128", "\"decoder_ffn_dim\": 256"));
            e = assertThrows(UserException.class, () -> Seq2SeqModels.load(bad, m));
            assertTrue(
                    e.getMessage().contains("model.decoder.layers.0.fc1.weight")
                            && e.getMessage().contains("256"),
                    e.getMessage());
        }
    }
}
