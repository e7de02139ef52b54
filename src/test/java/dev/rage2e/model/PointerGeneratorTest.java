package dev.rage2e.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.model.generate.Generation;
import dev.rage2e.testutil.Fixtures;
import dev.rage2e.util.Json;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The copy head (See et al. 2017) against a plain-Java implementation of its equations over the base
 * model's hidden states and logits; incremental decoding equal to teacher forcing; gradients reaching
 * the copy parameters; save/load keeping the head.
 */
class PointerGeneratorTest {
    @TempDir
    Path tmp;

    Path dir;

    // source ids with a repeated token (500 twice in row 0) and padding in row 1
    static final long[][] SOURCE = {{101, 300, 500, 400, 500, 102}, {101, 600, 700, 102}};
    static final long[] DECODER = {101, 500, 400, 101, 700, 600};

    /** The tiny HF BERT2BERT fixture plus a copy head with random (not the zero initial) gate weights. */
    @BeforeEach
    void makeCopyModel() throws Exception {
        dir = tmp.resolve("b2b-copy");
        Files.createDirectories(dir);
        Path src = Fixtures.hf("bert2bert");
        for (String f : new String[] {"tokenizer.json", "generation_config.json"}) {
            if (Files.exists(src.resolve(f))) Files.copy(src.resolve(f), dir.resolve(f));
        }
        Map<String, HostTensor> t = new LinkedHashMap<>(Safetensors.read(src.resolve("model.safetensors")));
        t.putAll(PointerGenerator.initialTensors(64, 64, 0.3f, 7));
        Random r = new Random(3);
        float[] g = new float[128];
        for (int i = 0; i < g.length; i++) g[i] = (float) r.nextGaussian() * 0.3f;
        t.put("copy.gate.weight", HostTensor.ofFloats(g, 1, 128));
        t.put("copy.gate.bias", HostTensor.ofFloats(new float[] {0.2f}, 1));
        Safetensors.write(dir.resolve("model.safetensors"), t, Map.of("format", "pt"));
        ObjectNode cfg = (ObjectNode) Json.read(src.resolve("config.json"));
        PointerGenerator.mark(cfg);
        Json.writeFile(dir.resolve("config.json"), cfg);
    }

    @Test
    void outputIsTheMixtureOfTheEquations() {
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel model = Seq2SeqModels.load(dir, m)) {
            PointerGenerator pg = assertInstanceOf(PointerGenerator.class, model);
            assertThrows(
                    IllegalStateException.class,
                    () -> pg.decode(m.create(DECODER, new Shape(2, 3)), null, null, false));
            TextTokenizer.Batch src = TextTokenizer.pad(m, SOURCE, pg.padTokenId());
            NDArray dec = m.create(DECODER, new Shape(2, 3));
            NDArray enc = pg.encode(src.ids(), src.mask(), false);
            float[] out =
                    pg.decode(dec, null, enc, src.mask(), src.ids(), false).toFloatArray();
            DecoderHiddenStates base = (DecoderHiddenStates) pg.base();
            NDArray h = base.decodeHidden(dec, null, enc, src.mask(), false);
            float[] expected =
                    reference(h.toFloatArray(), base.lmLogits(h).toFloatArray(), enc.toFloatArray(), pg.params());
            int v = pg.vocabSize();
            double maxP = 0, sumErr = 0;
            for (int row = 0; row < 6; row++) {
                double sum = 0;
                for (int w = 0; w < v; w++) {
                    double pe = expected[row * v + w], po = Math.exp(out[row * v + w]);
                    maxP = Math.max(maxP, Math.abs(pe - po));
                    if (pe > 1e-4)
                        assertEquals(Math.log(pe), out[row * v + w], 1e-4, "log p row " + row + " word " + w);
                    sum += po;
                }
                sumErr = Math.max(sumErr, Math.abs(sum - 1));
            }
            assertTrue(maxP < 1e-6, "max |p - reference| " + maxP);
            assertTrue(sumErr < 1e-4, "probabilities sum to 1, error " + sumErr);
            // the copy head matters: the repeated source token 500 gets more than the vocabulary head alone gives it
            float[] vocabOnly = base.lmLogits(h).softmax(-1).toFloatArray();
            assertTrue(expected[500] > 0.5 * vocabOnly[500] + 0.05, "copy mass on a source token");
        }
    }

    @Test
    void incrementalDecodingMatchesTeacherForcingAndFollowsBeams() {
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel pg = Seq2SeqModels.load(dir, m)) {
            TextTokenizer.Batch src = TextTokenizer.pad(m, SOURCE, pg.padTokenId());
            NDArray enc = pg.encode(src.ids(), src.mask(), false);
            NDArray dec = m.create(DECODER, new Shape(2, 3));
            float[] full =
                    pg.decode(dec, null, enc, src.mask(), src.ids(), false).toFloatArray();
            int v = pg.vocabSize();
            // rows swapped by a reorder before the first step: results must follow the source rows
            Seq2SeqModel.DecoderState s =
                    pg.startDecoding(enc, src.mask(), src.ids()).reorder(m.create(new long[] {1, 0}));
            for (int t = 0; t < 3; t++) {
                float[] stepOut = pg.step(s, m.create(new long[] {DECODER[3 + t], DECODER[t]}))
                        .toFloatArray();
                for (int w = 0; w < v; w++) {
                    assertEquals(full[(3 + t) * v + w], stepOut[w], 2e-4, "row 1 position " + t);
                    assertEquals(full[t * v + w], stepOut[v + w], 2e-4, "row 0 position " + t);
                }
            }
            // generation through the HF-semantics generator works with and without the cache
            GenerationConfig cfg = pg.generationConfig().withMaxLength(6).withNumBeams(2);
            Generation.Result a = Generation.generate(pg, SOURCE, cfg, m);
            Generation.Result b = Generation.generate(pg, SOURCE, cfg.withUseCache(false), m);
            for (int i = 0; i < SOURCE.length; i++) assertArrayEquals(a.sequences()[i], b.sequences()[i]);
        }
    }

    @Test
    void gradientsReachTheCopyHeadAndSaveLoadKeepsIt() throws Exception {
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel pg = Seq2SeqModels.load(dir, m)) {
            pg.params().setRequiresGradient(true);
            TextTokenizer.Batch src = TextTokenizer.pad(m, SOURCE, pg.padTokenId());
            NDArray dec = m.create(DECODER, new Shape(2, 3));
            try (GradientCollector gc = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
                NDArray lp = pg.decode(dec, null, pg.encode(src.ids(), src.mask(), true), src.mask(), src.ids(), true);
                // NLL of copying token 500 at every position of row 0
                gc.backward(lp.get("0, :, 500").sum().neg());
            }
            for (String n : new String[] {"copy.query.weight", "copy.gate.weight", "copy.gate.bias"}) {
                float[] g = pg.params().parameters().get(n).getGradient().toFloatArray();
                double norm = 0;
                for (float x : g) {
                    assertTrue(Float.isFinite(x), n);
                    norm += x * x;
                }
                assertTrue(norm > 1e-12, n + " gets a gradient");
            }
            Path out = tmp.resolve("saved");
            pg.save(out);
            try (Seq2SeqModel back = Seq2SeqModels.load(out, m)) {
                assertInstanceOf(PointerGenerator.class, back);
                NDArray e1 = pg.encode(src.ids(), src.mask(), false), e2 = back.encode(src.ids(), src.mask(), false);
                assertArrayEquals(
                        pg.decode(dec, null, e1, src.mask(), src.ids(), false).toFloatArray(),
                        back.decode(dec, null, e2, src.mask(), src.ids(), false).toFloatArray());
            }
        }
    }

    /**
     * The copy head's equations in plain Java: p [rows, V] for hidden [B*T, H], logits [B*T, V], encoder out [B, S, H].
     */
    static float[] reference(float[] h, float[] logits, float[] enc, ParamStore p) {
        int hd = 64, he = 64, b = SOURCE.length, t = 3, s = SOURCE[0].length;
        int v = logits.length / (b * t);
        float[] wq = p.get("copy.query.weight").toFloatArray(); // [He, Hd]
        float[] wg = p.get("copy.gate.weight").toFloatArray();
        float bg = p.get("copy.gate.bias").toFloatArray()[0];
        float[] out = new float[b * t * v];
        for (int bi = 0; bi < b; bi++) {
            for (int ti = 0; ti < t; ti++) {
                int row = bi * t + ti;
                double[] q = new double[he];
                for (int i = 0; i < he; i++) for (int j = 0; j < hd; j++) q[i] += wq[i * hd + j] * h[row * hd + j];
                double[] a = new double[s];
                double max = Double.NEGATIVE_INFINITY;
                for (int si = 0; si < s; si++) {
                    if (si >= SOURCE[bi].length) {
                        a[si] = Double.NEGATIVE_INFINITY; // padding
                        continue;
                    }
                    for (int i = 0; i < he; i++) a[si] += q[i] * enc[(bi * s + si) * he + i];
                    a[si] /= Math.sqrt(he);
                    max = Math.max(max, a[si]);
                }
                double z = 0;
                for (int si = 0; si < s; si++) z += a[si] = Math.exp(a[si] - max);
                double[] ctx = new double[he];
                for (int si = 0; si < s; si++) {
                    a[si] /= z;
                    for (int i = 0; i < he; i++) ctx[i] += a[si] * enc[(bi * s + si) * he + i];
                }
                double g = bg;
                for (int j = 0; j < hd; j++) g += wg[j] * h[row * hd + j];
                for (int i = 0; i < he; i++) g += wg[hd + i] * ctx[i];
                double pGen = 1 / (1 + Math.exp(-g));
                double lmax = Double.NEGATIVE_INFINITY, lz = 0;
                for (int w = 0; w < v; w++) lmax = Math.max(lmax, logits[row * v + w]);
                for (int w = 0; w < v; w++) lz += Math.exp(logits[row * v + w] - lmax);
                for (int w = 0; w < v; w++)
                    out[row * v + w] = (float) (pGen * Math.exp(logits[row * v + w] - lmax) / lz);
                for (int si = 0; si < SOURCE[bi].length; si++)
                    out[row * v + (int) SOURCE[bi][si]] += (float) ((1 - pGen) * a[si]);
            }
        }
        return out;
    }
}
